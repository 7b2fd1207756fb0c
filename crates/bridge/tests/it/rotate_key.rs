//! `mt5-bridge rotate-key`: every stored credential re-encrypted under the new key, readable with
//! the new key alone, while the service keeps logging in with it.


use crate::common;

use mt5_bridge::vault::{Binding, CredentialKey, Vault};
use secrecy::ExposeSecret;
use std::process::Command;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_re_encrypts_every_credential() {
    let app = common::spawn(common::Db::Sqlite).await;
    let user = Uuid::new_v4();
    let t = app.token(user);
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "one")
        .await;
    app.connect(&t, 10002, "Sim-10002!", "Sim-Demo", "two")
        .await;
    let old_key = app.env["CREDENTIALS_KEY"].clone();
    let new_key = CredentialKey::generate("t2");
    let new_b64 = new_key.to_base64().expose_secret().to_string();

    let out = Command::new(env!("CARGO_BIN_EXE_mt5-bridge"))
        .arg("rotate-key")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", app.data_dir.path())
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", common::JWT_SECRET)
        .env("CREDENTIALS_KEY", &new_b64)
        .env("CREDENTIALS_KEY_ID", "t2")
        .env("CREDENTIALS_OLD_KEYS", format!("t1:{old_key}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-encrypted 2"), "{stdout}");
    assert!(
        !stdout.contains(&new_b64) && !stdout.contains(&old_key),
        "keys printed"
    );

    // Every row now names t2 and decrypts with the new key alone.
    let vault = Vault::new(CredentialKey::from_base64("t2", &new_b64).unwrap(), vec![]);
    let rows = app.state.store.all_credentials().await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(Vault::key_id_of(&row.encrypted_password), Some("t2"));
        let pw = vault
            .decrypt(
                &row.encrypted_password,
                &Binding {
                    account_id: row.id,
                    user_id: user,
                    login: &row.login,
                    server: &row.server,
                },
            )
            .unwrap();
        assert!(pw.expose_secret().starts_with("Sim-1000"));
    }

    // Running it again changes nothing.
    let again = Command::new(env!("CARGO_BIN_EXE_mt5-bridge"))
        .arg("rotate-key")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", app.data_dir.path())
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", common::JWT_SECRET)
        .env("CREDENTIALS_KEY", &new_b64)
        .env("CREDENTIALS_KEY_ID", "t2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(
        stdout.contains("re-encrypted 0, already current 2"),
        "{stdout}"
    );
    app.shutdown().await;
}
