//! `cargo xtask check-examples`: every public entry point of every published
//! crate carries an example that compiles as a doc-test.
//!
//! An entry point is what an embedder names in a `use`: each function, type,
//! trait and macro a crate's root declares or re-exports from its own
//! modules, and each item of a module the root makes public. Constants and
//! statics are values, not entry points; re-exports of another crate are that
//! crate's to document. A type's example shows how to obtain and use one:
//! on the type or on one of its own associated functions (its constructor,
//! parser or builder), so its methods are not listed one by one. A name
//! defined once per target OS passes with one example: the documentation
//! shows one definition.
//!
//! The sources are read with `syn`, as the compiler reads them: a name is
//! found in whatever file and inline module defines it, tests excluded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use syn::{Attribute, Item, UseTree, Visibility};

/// The crates checked: every library that is published.
const LIBRARY_CRATES: &[&str] = &[
    "policy-model",
    "profiles",
    "execpolicy",
    "audit",
    "sandbox-linux",
    "sandbox-macos",
    "network-proxy",
    "cli",
];

/// One public definition found in a crate's sources.
struct Definition {
    file: PathBuf,
    /// Constants and statics need no example.
    needs_example: bool,
    has_example: bool,
}

pub(crate) fn check_examples(root: &Path) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut checked = 0usize;
    for krate in LIBRARY_CRATES {
        let src = root.join(krate).join("src");
        let lib = parse(&src.join("lib.rs"))?;
        let mut definitions = BTreeMap::new();
        let mut examples_in_impls = BTreeMap::new();
        index_dir(&src, &mut definitions, &mut examples_in_impls)?;
        for name in entry_points(&src, &lib)? {
            // A name defined nowhere here is another crate's re-export.
            let Some(found) = definitions.get(&name) else {
                continue;
            };
            let Some(first) = found.iter().find(|d| d.needs_example) else {
                continue;
            };
            checked += 1;
            let documented = found.iter().any(|d| d.has_example)
                || examples_in_impls.get(&name).is_some_and(|n| *n > 0);
            if !documented {
                let file = first.file.strip_prefix(root).unwrap_or(&first.file);
                missing.push(format!("{krate}: `{name}` ({})", file.display()));
            }
        }
    }
    if missing.is_empty() {
        eprintln!("xtask: {checked} public entry points, each with a doc-test example");
        return Ok(());
    }
    Err(format!(
        "{} of {checked} public entry points have no example in their documentation \
         (a ``` block that compiles as a doc-test):\n  {}",
        missing.len(),
        missing.join("\n  ")
    ))
}

fn parse(path: &Path) -> Result<syn::File, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    syn::parse_file(&text).map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

/// The names an embedder reaches from the crate root.
fn entry_points(src: &Path, lib: &syn::File) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for item in &lib.items {
        if !is_public(item) || is_test_only(item) {
            continue;
        }
        match item {
            Item::Use(u) => use_names(&u.tree, src, &mut names)?,
            // Every item of a public module is reachable through it.
            Item::Mod(m) => {
                let items = match &m.content {
                    Some((_, items)) => items.clone(),
                    None => module_file(src, &m.ident.to_string())?.items,
                };
                names.extend(items.iter().filter(|i| is_public(i)).filter_map(item_name));
            }
            other => names.extend(item_name(other)),
        }
    }
    // A glob over per-OS modules names the same item once per OS.
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|name| seen.insert(name.clone()));
    Ok(names)
}

/// The names a `pub use` brings in; a glob brings every public item of its
/// module.
fn use_names(tree: &UseTree, src: &Path, names: &mut Vec<String>) -> Result<(), String> {
    match tree {
        UseTree::Path(p) => {
            if let UseTree::Glob(_) = &*p.tree {
                let module = module_file(src, &p.ident.to_string())?;
                names.extend(
                    module
                        .items
                        .iter()
                        .filter(|i| is_public(i))
                        .filter_map(item_name),
                );
                // A module that re-exports its own submodules by glob.
                for item in &module.items {
                    if let Item::Use(u) = item {
                        let sub = src.join(p.ident.to_string());
                        use_names(&u.tree, &sub, names)?;
                    }
                }
                Ok(())
            } else {
                use_names(&p.tree, src, names)
            }
        }
        // `use x as y`: the definition carries the original name.
        UseTree::Name(n) => {
            names.push(n.ident.to_string());
            Ok(())
        }
        UseTree::Rename(r) => {
            names.push(r.ident.to_string());
            Ok(())
        }
        UseTree::Group(g) => g.items.iter().try_for_each(|t| use_names(t, src, names)),
        UseTree::Glob(_) => Ok(()),
    }
}

/// `name.rs` or `name/mod.rs` beside `src`.
fn module_file(src: &Path, name: &str) -> Result<syn::File, String> {
    let flat = src.join(format!("{name}.rs"));
    if flat.exists() {
        parse(&flat)
    } else {
        parse(&src.join(name).join("mod.rs"))
    }
}

/// How many of a type's inherent public associated functions carry an
/// example, by type name.
type ImplExamples = BTreeMap<String, usize>;

/// Every public definition in every source file, by name.
fn index_dir(
    dir: &Path,
    into: &mut BTreeMap<String, Vec<Definition>>,
    impls: &mut ImplExamples,
) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            index_dir(&path, into, impls)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let file = parse(&path)?;
            index_items(&file.items, &path, into, impls);
        }
    }
    Ok(())
}

fn index_items(
    items: &[Item],
    file: &Path,
    into: &mut BTreeMap<String, Vec<Definition>>,
    impls: &mut ImplExamples,
) {
    for item in items.iter().filter(|i| !is_test_only(i)) {
        if let Item::Mod(m) = item
            && let Some((_, inner)) = &m.content
        {
            index_items(inner, file, into, impls);
            continue;
        }
        if let Item::Impl(block) = item
            && block.trait_.is_none()
            && let syn::Type::Path(self_type) = &*block.self_ty
            && let Some(last) = self_type.path.segments.last()
        {
            let with_examples = block
                .items
                .iter()
                .filter(|i| match i {
                    syn::ImplItem::Fn(f) => {
                        matches!(f.vis, Visibility::Public(_)) && has_example(&f.attrs)
                    }
                    _ => false,
                })
                .count();
            *impls.entry(last.ident.to_string()).or_default() += with_examples;
            continue;
        }
        if !is_public(item) {
            continue;
        }
        let Some(name) = item_name(item) else {
            continue;
        };
        into.entry(name).or_default().push(Definition {
            file: file.to_path_buf(),
            needs_example: !matches!(item, Item::Const(_) | Item::Static(_)),
            has_example: has_example(attributes(item)),
        });
    }
}

fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Fn(i) => &i.sig.ident,
        Item::Struct(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        Item::Const(i) => &i.ident,
        Item::Static(i) => &i.ident,
        Item::Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.to_string())
}

fn attributes(item: &Item) -> &[Attribute] {
    match item {
        Item::Fn(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Const(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        _ => &[],
    }
}

fn is_public(item: &Item) -> bool {
    let visibility = match item {
        Item::Fn(i) => &i.vis,
        Item::Struct(i) => &i.vis,
        Item::Enum(i) => &i.vis,
        Item::Trait(i) => &i.vis,
        Item::Type(i) => &i.vis,
        Item::Union(i) => &i.vis,
        Item::Const(i) => &i.vis,
        Item::Static(i) => &i.vis,
        Item::Use(i) => &i.vis,
        Item::Mod(i) => &i.vis,
        // `#[macro_export]` is what makes a macro public.
        Item::Macro(i) => {
            return i.attrs.iter().any(|a| a.path().is_ident("macro_export"));
        }
        _ => return false,
    };
    matches!(visibility, Visibility::Public(_))
}

/// `#[cfg(test)]` items are not part of the API.
fn is_test_only(item: &Item) -> bool {
    attributes(item).iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// A fenced code block in the doc comment: rustdoc compiles it as a
/// doc-test unless it is marked `ignore` or another language, which this
/// check refuses as well.
fn has_example(attrs: &[Attribute]) -> bool {
    let mut docs = String::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            docs.push_str(&s.value());
            docs.push('\n');
        }
    }
    // Only an opening fence says what its block is; the closing one is bare.
    let mut inside = false;
    for line in docs.lines().map(str::trim_start) {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        if inside {
            inside = false;
            continue;
        }
        inside = true;
        let info = info.trim();
        // Rust code rustdoc runs, or at least compiles.
        if info.is_empty()
            || info
                .split(',')
                .map(str::trim)
                .all(|tag| matches!(tag, "rust" | "no_run" | "should_panic" | "edition2024"))
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_example;

    fn doc(text: &str) -> Vec<syn::Attribute> {
        text.lines()
            .map(|line| syn::parse_quote!(#[doc = #line]))
            .collect()
    }

    #[test]
    fn a_compiled_block_is_an_example_and_prose_or_ignored_code_is_not() {
        assert!(has_example(&doc(" Opens it.\n ```\n let x = 1;\n ```")));
        assert!(has_example(&doc(" ```no_run\n f();\n ```")));
        assert!(!has_example(&doc(" Opens it.")));
        assert!(!has_example(&doc(" ```ignore\n f();\n ```")));
        assert!(!has_example(&doc(" ```text\n output\n ```")));
        assert!(!has_example(&doc(" ```toml\n a = 1\n ```")));
        assert!(has_example(&doc(
            " ```text\n out\n ```\n then\n ```\n f();\n ```"
        )));
    }
}
