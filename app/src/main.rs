use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = deepreduce_app::cli::Cli::parse();
    match deepreduce_app::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
