//! The layering stays: no import cycle between the files of `crates/mt5`, `crates/mt5-sim` or
//! `crates/bridge` (no folder is exempt, `http/` included). Reads each library file's `use`
//! lines and inline `crate::`/`super::`/`self::` paths, outside comments and `#[cfg(test)]` items,
//! resolves them to the file that defines the item (following `pub use` re-exports), and fails
//! naming a cycle when the file graph has one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One crate's library: module path (segments below the root) → file, and each file's text.
struct Library {
    modules: BTreeMap<Vec<String>, PathBuf>,
    text: HashMap<PathBuf, String>,
}

fn load(src: &Path) -> Library {
    let mut lib = Library {
        modules: BTreeMap::new(),
        text: HashMap::new(),
    };
    walk(src, src, &mut lib);
    lib
}

fn walk(root: &Path, dir: &Path, lib: &mut Library) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        if path.is_dir() {
            if rel != Path::new("bin") {
                walk(root, &path, lib);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || rel == Path::new("main.rs") {
            continue;
        }
        let mut segments: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if segments.last().is_some_and(|s| s == "mod" || s == "lib") {
            segments.pop();
        }
        let text = strip(&std::fs::read_to_string(&path).unwrap());
        lib.text.insert(rel.clone(), text);
        lib.modules.insert(segments, rel);
    }
}

/// The code without comments, string contents and `#[cfg(test)]` items.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if src[i..].starts_with("//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if src[i..].starts_with("/*") {
            let mut depth = 0;
            while i < b.len() {
                if src[i..].starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if src[i..].starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'"' && !src[..i].ends_with('\'') {
            // A string literal (raw strings in this code base hold no paths of interest).
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if src[i..].starts_with("#[cfg(test)]") {
            i += "#[cfg(test)]".len();
            // Skip the item: up to its `;` or through its braced body, whichever comes first.
            while i < b.len() && b[i] != b';' && b[i] != b'{' {
                i += 1;
            }
            if i < b.len() && b[i] == b'{' {
                let mut depth = 0;
                while i < b.len() {
                    match b[i] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            i += 1;
        } else {
            let ch = src[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands a use tree (`a::{b, c::{d, e}}`) at the start of `s` into paths; returns them and the
/// length read.
fn use_tree(s: &str) -> (Vec<Vec<String>>, usize) {
    let mut prefix: Vec<String> = Vec::new();
    let mut i = 0;
    let b = s.as_bytes();
    loop {
        while i < b.len() && (b[i] as char).is_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            i += 1;
            let mut paths = Vec::new();
            loop {
                while i < b.len() && ((b[i] as char).is_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    i += 1;
                    break;
                }
                let (inner, n) = use_tree(&s[i..]);
                i += n.max(1);
                for p in inner {
                    let mut full = prefix.clone();
                    full.extend(p);
                    paths.push(full);
                }
            }
            return (paths, i);
        }
        let start = i;
        while i < b.len() && (is_ident(b[i] as char) || b[i] == b'*') {
            i += 1;
        }
        if start == i {
            return (vec![prefix], i);
        }
        prefix.push(s[start..i].to_string());
        if s[i..].starts_with("::") {
            i += 2;
            continue;
        }
        // `as name`, then the end of this path.
        let rest = s[i..].trim_start();
        if let Some(after) = rest.strip_prefix("as ") {
            let skipped = s[i..].len() - rest.len() + 3;
            let name_len = after
                .trim_start()
                .find(|c: char| !is_ident(c))
                .unwrap_or(after.len());
            i += skipped + (after.len() - after.trim_start().len()) + name_len;
        }
        return (vec![prefix], i);
    }
}

/// Every path a file names: its `use` trees and inline `crate::`/`super::`/`self::` paths, as
/// absolute module paths.
fn paths_of(lib: &Library, module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let at_boundary = i == 0 || !is_ident(b[i - 1] as char) && b[i - 1] != b':';
        let word_end = text[i..]
            .find(|c: char| !is_ident(c))
            .map_or(text.len(), |n| i + n);
        let word = &text[i..word_end];
        if at_boundary && word == "use" && text[word_end..].starts_with(' ') {
            let (paths, n) = use_tree(&text[word_end..]);
            for p in paths {
                if let Some(abs) = absolute(lib, module, &p, true) {
                    out.push(abs);
                }
            }
            i = word_end + n.max(1);
            continue;
        }
        if at_boundary
            && (word == "crate" || word == "super" || word == "self")
            && text[word_end..].starts_with("::")
        {
            let (paths, n) = use_tree(&text[i..]);
            for p in paths {
                if let Some(abs) = absolute(lib, module, &p, false) {
                    out.push(abs);
                }
            }
            i += n.max(1);
            continue;
        }
        i = if word_end > i {
            word_end
        } else {
            i + text[i..].chars().next().map_or(1, char::len_utf8)
        };
    }
    out
}

/// `path` as seen from `module`, made absolute; None for other crates and the standard library.
fn absolute(
    lib: &Library,
    module: &[String],
    path: &[String],
    in_use: bool,
) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        // In a `use`, a bare first segment may be a child module of this one.
        child if in_use => {
            let mut m = module.to_vec();
            m.push(child.to_string());
            if !lib.modules.contains_key(&m) {
                return None;
            }
            return Some([module.to_vec(), path.to_vec()].concat());
        }
        _ => return None,
    };
    let mut rest = &path[1..];
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file that defines what `path` names, following `pub use` re-exports.
fn file_of(lib: &Library, path: &[String], depth: usize) -> Option<PathBuf> {
    let (n, file) = (0..=path.len())
        .rev()
        .find_map(|n| lib.modules.get(&path[..n]).map(|f| (n, f.clone())))?;
    let Some(name) = path.get(n) else {
        return Some(file);
    };
    if depth > 8 {
        return Some(file);
    }
    let module = &path[..n];
    // A name re-exported here comes from where the `pub use` points.
    let text = &lib.text[&file];
    for stmt in text.split("pub use ").skip(1) {
        let (paths, _) = use_tree(stmt);
        for p in paths {
            let Some(abs) = absolute(lib, module, &p, true) else {
                continue;
            };
            let last = abs.last().cloned().unwrap_or_default();
            if last == *name {
                // The re-exported item, then whatever the path names inside it.
                return file_of(lib, &[&abs[..], &path[n + 1..]].concat(), depth + 1);
            }
            if last == "*" {
                let source = &abs[..abs.len() - 1];
                if let Some(src_file) = lib.modules.get(source) {
                    if defines(&lib.text[src_file], name) {
                        return file_of(lib, &[source, &path[n..]].concat(), depth + 1);
                    }
                }
            }
        }
    }
    Some(file)
}

fn defines(text: &str, name: &str) -> bool {
    [
        "struct", "enum", "fn", "const", "static", "type", "trait", "mod",
    ]
    .iter()
    .any(|kind| {
        text.contains(&format!("pub {kind} {name} "))
            || text.contains(&format!("pub {kind} {name}("))
            || text.contains(&format!("pub {kind} {name}<"))
            || text.contains(&format!("pub {kind} {name}:"))
            || text.contains(&format!("pub {kind} {name};"))
            || text.contains(&format!("pub {kind} {name} {{"))
    })
}

/// The file graph: file → files it names.
fn graph(lib: &Library) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut g: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (module, file) in &lib.modules {
        let targets = g.entry(file.clone()).or_default();
        for p in paths_of(lib, module, &lib.text[file]) {
            if let Some(t) = file_of(lib, &p, 0) {
                if &t != file {
                    targets.insert(t);
                }
            }
        }
    }
    g
}

/// Every cycle's files (strongly connected components of more than one file).
fn cycles(g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    // Tarjan's algorithm, small enough to write out.
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: HashMap<&'a PathBuf, usize>,
        low: HashMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        for w in g.get(v).into_iter().flatten() {
            if !g.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

fn describe(g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, cycle: &[PathBuf]) -> String {
    let members: BTreeSet<&PathBuf> = cycle.iter().collect();
    cycle
        .iter()
        .map(|f| {
            let to: Vec<String> = g[f]
                .iter()
                .filter(|t| members.contains(t))
                .map(|t| t.display().to_string())
                .collect();
            format!("  {} -> {}", f.display(), to.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_import_cycle_between_files() {
    let mut found = Vec::new();
    for name in ["mt5", "mt5-sim", "bridge"] {
        let lib = load(&crate_src(name));
        assert!(lib.modules.len() > 3, "{name}: no sources found");
        let g = graph(&lib);
        for c in cycles(&g) {
            found.push(format!(
                "crates/{name}: a cycle of {} files:\n{}",
                c.len(),
                describe(&g, &c)
            ));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_and_its_exceptions() {
    let lib = Library {
        modules: BTreeMap::from([
            (vec![], PathBuf::from("lib.rs")),
            (vec!["a".into()], PathBuf::from("a.rs")),
            (vec!["b".into()], PathBuf::from("b.rs")),
            (vec!["c".into()], PathBuf::from("c.rs")),
            (vec!["http".into()], PathBuf::from("http/mod.rs")),
            (vec!["http".into(), "x".into()], PathBuf::from("http/x.rs")),
        ]),
        text: HashMap::from([
            (
                PathBuf::from("lib.rs"),
                strip("pub mod a; pub mod b; pub use c::Thing;"),
            ),
            (
                PathBuf::from("a.rs"),
                strip("use crate::{b::B, Thing};\n// use crate::c;\n pub struct A;"),
            ),
            (PathBuf::from("b.rs"), strip("pub struct B(super::a::A);")),
            (
                PathBuf::from("c.rs"),
                strip("pub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::A; }"),
            ),
            (
                PathBuf::from("http/mod.rs"),
                strip("pub use self::x::X; pub struct S;"),
            ),
            (PathBuf::from("http/x.rs"), strip("pub struct X(super::S);")),
        ]),
    };
    let g = graph(&lib);
    assert!(
        g[&PathBuf::from("a.rs")].contains(&PathBuf::from("c.rs")),
        "{g:?}"
    );
    let found = cycles(&g);
    assert_eq!(
        found,
        vec![
            vec![PathBuf::from("a.rs"), PathBuf::from("b.rs")],
            vec![PathBuf::from("http/mod.rs"), PathBuf::from("http/x.rs")]
        ],
        "a <-> b and http/mod.rs <-> http/x.rs are cycles (no folder is exempt); c's test module is not"
    );
}
