//! Every configuration a newcomer can copy from the docs starts as copied:
//! each TOML block of the READMEs and the guide pages, and the Debian
//! package's file, goes through `invalid-scope-proxy check` as a start
//! would read it (with `--upstream` added when the block has none) and
//! exits 0. A Cargo snippet (`[dependencies]`) is not a proxy
//! configuration.

mod support;

use std::path::Path;

use support::{assert_lines, run_once};

/// The ```toml blocks of a Markdown page, with their first line number.
fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match &mut open {
            None if line.trim_start() == "```toml" => open = Some((number + 2, String::new())),
            None => {}
            Some(_) if line.trim_start() == "```" => blocks.extend(open.take()),
            Some((_, block)) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

/// `check` on `config`, with `--upstream` when the block names none.
fn check(config: &str) -> std::process::Output {
    let named = config.lines().any(|line| line.starts_with("upstream"));
    let arguments: &[&str] = if named {
        &["check"]
    } else {
        &["check", "--upstream", "http://127.0.0.1:9"]
    };
    run_once(arguments, config, &[])
}

#[test]
fn every_configuration_in_the_docs_starts_as_copied() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pages = vec![root.join("README.md"), root.join("proxy/README.md")];
    let mut guides: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    guides.sort();
    pages.extend(guides);
    let mut checked = 0;
    for page in &pages {
        let markdown = std::fs::read_to_string(page).unwrap();
        for (line, block) in toml_blocks(&markdown) {
            if block.contains("[dependencies]") {
                continue;
            }
            let output = check(&block);
            assert!(
                output.status.success(),
                "{}, line {line}: {}\n{block}",
                page.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    let package = std::fs::read_to_string(root.join("deploy/debian/proxy.toml")).unwrap();
    let output = check(&package);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(checked >= 1, "the complete configuration at least");
}

#[test]
fn the_complete_configuration_says_what_it_sets() {
    let manual = include_str!("../README.md");
    let after = &manual[manual.find("## A complete configuration").unwrap()..];
    let (_, block) = toml_blocks(after).into_iter().next().unwrap();
    let output = check(&block);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_lines(
        &printed,
        &[
            "upstream = \"http://127.0.0.1:8000\"",
            "[correlation]",
            "store = \"memory\"",
        ],
    );
    assert!(printed.contains("\"wizard\" = [\"read\"]"), "{printed}");
    assert!(!printed.contains("[posthog]"), "commented out:\n{printed}");
    // Its comments tell what a newcomer misread.
    assert!(block.contains("limits log events per event name, not requests"));
}
