//! The collector's and the agent's config loaders on arbitrary text: they must answer
//! with a config or located errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = estate_server::config::ServerConfig::parse(text, "fuzz/server.toml") {
        // Every error names the file it is about.
        assert!(e.to_string().contains("fuzz/server.toml"), "{e}");
    }
    if let Err(e) = estate_agent::config::AgentConfig::parse(text, "fuzz/agent.toml") {
        assert!(e.to_string().contains("fuzz/agent.toml"), "{e}");
    }
});
