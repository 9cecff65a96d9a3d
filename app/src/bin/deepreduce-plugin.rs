//! `deepreduce-plugin LIBRARY [--no-sandbox]`: serves one plugin library to
//! the workbench, sandboxed (see the `plugin-runner` crate). The workbench
//! starts it; it is not meant to be run by hand.

fn main() -> std::process::ExitCode {
    deepreduce_plugin_runner::serve::main()
}
