//! Starting plugin processes on workers: a library loaded at run time
//! (sandboxed, as every library starts), and a plugin started again with or
//! without the sandbox when the user trusts it or not. Starting one runs
//! the library's constructors, which may hang until the start timeout; the
//! window goes on meanwhile.

use super::Workbench;
use super::pending::Pending;
use crate::engine::plugin_host::{HostError, LoadedPlugin, PluginHost};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A started process, or why it did not start.
type Started = Result<LoadedPlugin, HostError>;

#[derive(Default)]
pub struct PluginStarts {
    /// A library being loaded.
    loading: Pending<Started>,
    /// Plugins being started again, by id.
    restarts: BTreeMap<String, Pending<Started>>,
    /// Trusted but running sandboxed (trusted in the settings, or loaded at
    /// run time): started again in the next frame (a worker needs the
    /// window's context).
    queued: Vec<String>,
}

impl PluginStarts {
    /// Trusts in `host` the ids the settings trust, and queues those loaded
    /// sandboxed to be started again without it.
    pub fn trusting(host: &mut PluginHost, trusted: &BTreeSet<String>) -> PluginStarts {
        for id in trusted {
            host.set_trusted(id, true);
        }
        let mut starts = PluginStarts::default();
        starts.queue_trusted(host);
        starts
    }

    /// Queues the plugins `host` trusts that run sandboxed and are not
    /// being started again already.
    fn queue_trusted(&mut self, host: &PluginHost) {
        self.queued = host
            .awaiting_trust()
            .into_iter()
            .map(|p| p.descriptor.id)
            .filter(|id| !self.restarts.contains_key(id))
            .collect();
    }

    pub fn busy(&self) -> bool {
        self.loading.is_running() || !self.restarts.is_empty() || !self.queued.is_empty()
    }

    pub fn loading(&self) -> bool {
        self.loading.is_running()
    }

    pub fn restarting(&self, id: &str) -> bool {
        self.restarts.contains_key(id)
    }
}

impl Workbench {
    /// Loads a third-party library on a worker; a broken one is listed with
    /// its error and disturbs nothing else.
    pub(super) fn load_plugin(&mut self, ctx: &egui::Context, path: &Path) {
        self.settings.last_plugin_folder = path.parent().map(Path::to_path_buf);
        let (options, path) = (self.host.options().clone(), path.to_path_buf());
        self.plugins
            .starts
            .loading
            .start(ctx, move || PluginHost::start(&options, &path));
        // A well-behaved library starts in a few milliseconds: listed at once.
        self.take_loaded();
    }

    /// Runs plugin `id` with or without the sandbox from now on, and
    /// remembers it.
    pub(super) fn set_trusted(&mut self, ctx: &egui::Context, id: &str, trusted: bool) {
        if trusted {
            self.settings.trusted_plugins.insert(id.to_string());
        } else {
            self.settings.trusted_plugins.remove(id);
        }
        self.host.set_trusted(id, trusted);
        self.restart_plugin(ctx, id);
    }

    /// Starts plugin `id`'s library again as the host's options now say.
    fn restart_plugin(&mut self, ctx: &egui::Context, id: &str) {
        let Some(plugin) = self.host.get(id).cloned() else {
            return;
        };
        let options = self.host.options().clone();
        // A restart still running is superseded: the latest choice wins.
        self.plugins
            .starts
            .restarts
            .entry(id.to_string())
            .or_default()
            .start(ctx, move || PluginHost::restart(&options, &plugin));
    }

    /// Takes in the processes the workers started (every frame).
    pub(super) fn poll_plugin_starts(&mut self, ctx: &egui::Context) {
        for id in std::mem::take(&mut self.plugins.starts.queued) {
            self.restart_plugin(ctx, &id);
        }
        self.take_loaded();
        self.take_restarted();
    }

    fn take_loaded(&mut self) {
        let Some(started) = self.plugins.starts.loading.poll() else {
            return;
        };
        let outcome = match started {
            Ok(started) => match self.host.insert(started) {
                Ok(p) => Ok(format!(
                    "loaded {} {} from {}",
                    p.descriptor.id,
                    p.descriptor.version,
                    p.path.display()
                )),
                Err(e) => Err(e.to_string()),
            },
            Err(panicked) => Err(panicked.to_string()),
        };
        // Every library starts sandboxed; one the user trusts starts again.
        self.plugins.starts.queue_trusted(&self.host);
        self.plugins.last_outcome = Some(outcome);
        self.plugins.refresh(&self.host);
        self.network.plugins_changed();
    }

    fn take_restarted(&mut self) {
        let done: Vec<(String, _)> = self
            .plugins
            .starts
            .restarts
            .iter_mut()
            .filter_map(|(id, pending)| Some((id.clone(), pending.poll()?)))
            .collect();
        if done.is_empty() {
            return;
        }
        for (id, started) in done {
            self.plugins.starts.restarts.remove(&id);
            let outcome = match started {
                Ok(Ok(plugin)) => {
                    let state = plugin.state();
                    if self.host.replace(plugin) {
                        Ok(format!("started {id} again: {state}"))
                    } else {
                        Err(format!(
                            "{id} was not started again: its library now says it is another plugin"
                        ))
                    }
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(panicked) => Err(panicked.to_string()),
            };
            self.plugins.last_outcome = Some(outcome);
        }
        self.network.plugins_changed();
    }
}
