//! The demo's admin user: `demo`, an admin, with a new password at every start, printed once
//! in the log, so that the admin can be tried at once.

use chrono::Utc;
use pharos_core::Role;
use pharos_store::{Store, UserRecord};
use pharos_web::credentials;

/// The demo admin's name.
pub(crate) const NAME: &str = "demo";

/// Creates (or re-keys) the demo admin; answers its new password.
pub(crate) async fn ensure(store: &dyn Store) -> anyhow::Result<String> {
    let password = credentials::generate_password();
    let hash = credentials::hash_password(&password);
    let now = Utc::now();
    if store.user(NAME).await?.is_some() {
        store.update_user(NAME, &hash, Role::Admin, now).await?;
    } else {
        store
            .create_user(&UserRecord {
                name: NAME.into(),
                password_hash: hash,
                role: Role::Admin,
                created_at: now,
                password_changed_at: now,
            })
            .await?;
    }
    Ok(password)
}
