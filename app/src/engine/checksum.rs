//! SHA-256 digests of weight files, recorded when the files are written and
//! compared when they are read: burnpack checks its header and metadata but
//! not the tensor bytes, so a flipped bit would otherwise load as a slightly
//! different network. A list of digests is kept in `sha256sum`'s format, so
//! `sha256sum -c SHA256SUMS` checks a folder without the workbench.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The SHA-256 of a file's bytes; hexadecimal in text and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub fn of(bytes: &[u8]) -> Self {
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// Whether `bytes`, read from `path`, are the ones this digest was taken of.
    pub fn check(&self, path: &Path, bytes: &[u8]) -> Result<(), Mismatch> {
        let found = Sha256::of(bytes);
        if found == *self {
            Ok(())
        } else {
            Err(Mismatch {
                path: path.to_path_buf(),
                recorded: *self,
                found,
            })
        }
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for Sha256 {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let invalid = || format!("'{s}' is not a SHA-256 (64 hexadecimal digits)");
        if s.len() != 64 || !s.is_ascii() {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(s.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(Sha256(bytes))
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A file whose bytes differ from the digest recorded when it was written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", path.display(), self.reason())]
pub struct Mismatch {
    pub path: PathBuf,
    pub recorded: Sha256,
    pub found: Sha256,
}

impl Mismatch {
    /// What is wrong, without the file's name.
    pub fn reason(&self) -> String {
        format!(
            "corrupt or changed after it was written (SHA-256 {}, {} recorded)",
            self.found, self.recorded
        )
    }
}

/// File names and their digests, as `sha256sum` prints and `sha256sum -c` reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SumsFile(pub Vec<(String, Sha256)>);

impl SumsFile {
    pub fn get(&self, name: &str) -> Option<Sha256> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, d)| *d)
    }

    pub fn to_text(&self) -> String {
        self.0.iter().map(|(n, d)| format!("{d}  {n}\n")).collect()
    }

    /// Reads `<hex>  <name>` lines (or `<hex> *<name>`, binary mode).
    pub fn parse(text: &str) -> Result<Self, String> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let (digest, name) = line
                    .split_once(' ')
                    .ok_or_else(|| format!("'{line}' is not '<sha256>  <file>'"))?;
                let name = name.strip_prefix([' ', '*']).unwrap_or(name);
                Ok((name.to_string(), digest.parse()?))
            })
            .collect::<Result<_, String>>()
            .map(SumsFile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_print_and_parse_as_sha256sum_does() {
        // sha256sum of "abc" (FIPS 180-2 test vector).
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(Sha256::of(b"abc").to_string(), abc);
        let sums = SumsFile(vec![("a b.bin".into(), Sha256::of(b"abc"))]);
        assert_eq!(sums.to_text(), format!("{abc}  a b.bin\n"));
        assert_eq!(SumsFile::parse(&sums.to_text()), Ok(sums.clone()));
        assert_eq!(SumsFile::parse(&format!("{abc} *a b.bin\n")), Ok(sums));
        assert!(SumsFile::parse("abc  file\n").is_err());
        assert!(SumsFile::parse(abc).is_err());
    }

    #[test]
    fn a_changed_byte_is_a_mismatch_naming_the_file() {
        let digest = Sha256::of(b"weights");
        assert!(digest.check(Path::new("w.bpk"), b"weights").is_ok());
        let err = digest.check(Path::new("w.bpk"), b"weightz").unwrap_err();
        assert!(err.to_string().starts_with("w.bpk: corrupt"), "{err}");
    }
}
