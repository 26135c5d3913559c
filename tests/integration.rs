//! ferry's integration tests: one binary, one module per feature.
//! They drive the real `ferry` binary and real tools (rpmbuild, createrepo_c, signify-openbsd).

#[path = "integration/browser.rs"]
mod browser;
#[path = "integration/catalog_gen.rs"]
mod catalog_gen;
#[path = "integration/common.rs"]
mod common;
#[path = "integration/crash.rs"]
mod crash;
#[path = "integration/damage.rs"]
mod damage;
#[path = "integration/export_state.rs"]
mod export_state;
#[path = "integration/fetch.rs"]
mod fetch;
#[path = "integration/forge.rs"]
mod forge;
#[path = "integration/fuzz_corpus.rs"]
mod fuzz_corpus;
#[path = "integration/golden.rs"]
mod golden;
#[path = "integration/hostile.rs"]
mod hostile;
#[path = "integration/import.rs"]
mod import;
#[path = "integration/interop.rs"]
mod interop;
#[path = "integration/keys.rs"]
mod keys;
#[path = "integration/kickstart.rs"]
mod kickstart;
#[path = "integration/lifecycle.rs"]
mod lifecycle;
#[path = "integration/memory.rs"]
mod memory;
#[path = "integration/openapi.rs"]
mod openapi;
#[path = "integration/pack.rs"]
mod pack;
#[path = "integration/partial.rs"]
mod partial;
#[path = "integration/prune.rs"]
mod prune;
#[path = "integration/repofile.rs"]
mod repofile;
#[path = "integration/rotation.rs"]
mod rotation;
#[path = "integration/serve.rs"]
mod serve;
#[path = "integration/serve_rotation.rs"]
mod serve_rotation;
#[path = "integration/signatures.rs"]
mod signatures;
#[path = "integration/sources.rs"]
mod sources;
#[path = "integration/vectors.rs"]
mod vectors;
#[path = "integration/wycheproof.rs"]
mod wycheproof;
