//! Embeds the shipped config (check catalogue, audit profiles, data tables) in the
//! binary, so `estate-server` works from any directory with no files beside it; a
//! config directory given at run time replaces them.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let root = Path::new(&manifest).join("../config");
    let mut out = String::new();
    for (name, dir) in [
        ("CHECKS", "checks"),
        ("PROFILES", "profiles"),
        ("DATA", "data"),
    ] {
        let path = root.join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
        let mut files: Vec<_> = std::fs::read_dir(&path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let _ = writeln!(
            out,
            "/// The shipped `config/{dir}/*.toml`, as (path, text).\npub static {name}: &[(&str, &str)] = &["
        );
        for file in files {
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let absolute = file.canonicalize().unwrap_or(file);
            let _ = writeln!(
                out,
                "    ({:?}, include_str!({:?})),",
                format!("config/{dir}/{file_name}"),
                absolute.display().to_string()
            );
        }
        out.push_str("];\n");
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_owned()))
        .join("embedded_config.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
