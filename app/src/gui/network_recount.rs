//! The Network panel's plugin work, off the UI thread: what the
//! architecture plugins offer and the recount of the draft. The
//! [`Recounter`] and its caches go to the worker with the draft and come
//! back with the result; a change while a recount runs is recounted once it
//! returns, from the latest draft.

use super::pending::Pending;
use crate::engine::network_view::{Draft, NetworkView, Recounter};
use crate::engine::plugin_host::{HostError, PluginHost};
use deepreduce_plugin_api::{PluginKind, VariantInfo};
use std::time::{Duration, Instant};

/// What the architecture plugins offer, and those that could not say.
#[derive(Default)]
struct Offered {
    variants: Vec<VariantInfo>,
    unanswered: Vec<HostError>,
}

impl Offered {
    fn ask(host: &PluginHost) -> Offered {
        let mut offered = Offered::default();
        for plugin in host.of_kind(PluginKind::Architecture) {
            match plugin.describe_architecture() {
                Ok(info) => offered.variants.extend(info.variants),
                Err(e) => offered.unanswered.push(e),
            }
        }
        offered
    }
}

/// A finished recount.
pub struct Recount {
    pub view: Result<NetworkView, String>,
    /// How long the plugins and the count took.
    pub time: Duration,
    /// The draft culled nothing: its network names every stage.
    pub uncut: bool,
}

/// What the worker hands back.
struct Worked {
    recounter: Recounter,
    offered: Option<Offered>,
    recount: Recount,
}

#[derive(Default)]
pub struct Recounts {
    dirty: bool,
    /// Idle between recounts; the worker holds it during one.
    recounter: Recounter,
    worker: Pending<Worked>,
    /// None until the plugins were asked (again after they changed).
    offered: Option<Offered>,
}

impl Recounts {
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Plugins came or went: ask again what they offer, forget the cached
    /// networks and any recount running with the old ones.
    pub fn plugins_changed(&mut self) {
        self.offered = None;
        self.recounter = Recounter::default();
        self.worker = Pending::default();
        self.dirty = true;
    }

    /// Something changed and is not recounted yet.
    pub fn busy(&self) -> bool {
        self.dirty || self.worker.is_running()
    }

    /// How long the plugins have kept the panel waiting, once that shows.
    pub fn waiting(&self) -> Option<Duration> {
        self.worker.waiting()
    }

    /// The architecture variants on offer (none until the plugins said).
    pub fn variants(&self) -> &[VariantInfo] {
        self.offered.as_ref().map_or(&[], |o| o.variants.as_slice())
    }

    /// Why the architecture plugins that could not say what they offer
    /// did not.
    pub fn unanswered(&self) -> &[HostError] {
        self.offered
            .as_ref()
            .map_or(&[], |o| o.unanswered.as_slice())
    }

    /// Whether [`start`](Self::start) should be called: something changed
    /// and no recount runs.
    pub fn wants_start(&self) -> bool {
        self.dirty && !self.worker.is_running()
    }

    /// Recounts `draft` on a worker (asking the plugins what they offer
    /// first, if needed).
    pub fn start(&mut self, ctx: &egui::Context, host: &PluginHost, draft: Result<Draft, String>) {
        self.dirty = false;
        let describe = self.offered.is_none();
        let mut recounter = std::mem::take(&mut self.recounter);
        let host = host.clone();
        self.worker.start(ctx, move || {
            let offered = describe.then(|| Offered::ask(&host));
            let uncut = matches!(&draft, Ok(d) if d.spec.keep.is_none());
            let started = Instant::now();
            let view = draft.and_then(|d| recounter.recount(&host, &d).map_err(|e| e.to_string()));
            Worked {
                recounter,
                offered,
                recount: Recount {
                    view,
                    time: started.elapsed(),
                    uncut,
                },
            }
        });
    }

    /// The recount that finished, if one did (waiting briefly for one that
    /// just started).
    pub fn finished(&mut self) -> Option<Recount> {
        match self.worker.poll()? {
            Ok(worked) => {
                self.recounter = worked.recounter;
                if worked.offered.is_some() {
                    self.offered = worked.offered;
                }
                Some(worked.recount)
            }
            // The recounter went down with the worker: a fresh one.
            Err(panicked) => Some(Recount {
                view: Err(panicked.to_string()),
                time: Duration::ZERO,
                uncut: false,
            }),
        }
    }
}
