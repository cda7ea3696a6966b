//! Blueprint YAML → plan → node instances: an error or a plan, never a
//! panic, within the parser's size, depth and instance limits.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let resolver = cfyd::dsl::Resolver::default();
    if let Ok(plan) =
        cfyd::dsl::parse_text(text, Path::new("/nonexistent/blueprint.yaml"), &resolver)
        && let Some(nodes) = plan["nodes"].as_array()
    {
        let _ = cfyd::dsl::instances::generate(nodes);
    }
});
