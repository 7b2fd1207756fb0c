//! `supabase/migrations` holds the same schema as the bridge's Postgres migrations (minus the auth
//! shim, which Supabase does not need): the two must not drift apart.


use std::path::Path;

#[test]
fn supabase_migrations_match_the_bridge_migrations() {
    // Resolved at run time (cargo runs tests in the package directory), not baked in at build time:
    // a build cache shared by checkouts in different folders must not point at another checkout.
    let root = Path::new(".");
    let bridge = root.join("migrations/postgres");
    let supabase = root.join("../../supabase/migrations");
    let mut names: Vec<String> = std::fs::read_dir(&bridge)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".sql") && !n.contains("auth_shim"))
        .collect();
    names.sort();
    let mut theirs: Vec<String> = std::fs::read_dir(&supabase)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    theirs.sort();
    assert_eq!(
        names, theirs,
        "supabase/migrations must mirror crates/bridge/migrations/postgres"
    );
    for n in names {
        let a = std::fs::read_to_string(bridge.join(&n)).unwrap();
        let b = std::fs::read_to_string(supabase.join(&n)).unwrap();
        assert_eq!(
            a, b,
            "{n} differs: copy crates/bridge/migrations/postgres/{n} to supabase/migrations/"
        );
    }
}
