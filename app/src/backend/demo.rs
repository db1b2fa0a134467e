//! The demo observatory created on the first start of an empty database, so a newcomer can sign
//! in at once. Passwords are generated and returned to be printed once; only hashes are stored.

use super::accounts::{create_account, NewAccount};
use super::error::ServiceError;
use super::storage::accounts::{NewObservatory, NewTelescope};
use super::storage::Db;
use crate::i18n::Lang;
use crate::model::Role;
use rand::Rng;

/// One demo log-in, to show on the console.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub role: Role,
    pub email: String,
    pub password: String,
}

pub const DEMO_OBSERVATORY_NAME: &str = "Observatorio Astronómico de Demostración";

/// Creates the demo observatory when the database has none; returns the accounts it created.
pub async fn seed_if_empty(db: &Db) -> Result<Option<Vec<DemoAccount>>, ServiceError> {
    if db.count_observatories().await? > 0 {
        return Ok(None);
    }
    let observatory_id = db
        .insert_observatory(NewObservatory {
            slug: "demo",
            name: DEMO_OBSERVATORY_NAME,
            ticket_prefix: "OBS",
        })
        .await?;
    let organization_id = db
        .insert_organization(observatory_id, "Asociación Astronómica Orión")
        .await?;
    for (name, model, location) in [
        ("Orión 1", "Planewave CDK24", "Cúpula 3, pilar A"),
        ("Orión 2", "Takahashi TOA-150", "Cúpula 3, pilar B"),
    ] {
        db.insert_telescope(NewTelescope {
            observatory_id,
            organization_id,
            name,
            model,
            location,
            notes: "",
        })
        .await?;
    }

    let people = [
        (
            Role::Admin,
            "admin@observatorio-demo.example",
            "Marta Administradora",
            None,
        ),
        (
            Role::Agent,
            "tecnico@observatorio-demo.example",
            "Tomás Técnico",
            None,
        ),
        (
            Role::Client,
            "lucia@orion-demo.example",
            "Lucía Cliente",
            Some(organization_id),
        ),
        (
            Role::Client,
            "pablo@orion-demo.example",
            "Pablo Cliente",
            Some(organization_id),
        ),
    ];
    let mut accounts = Vec::with_capacity(people.len());
    for (role, email, name, organization_id) in people {
        let password = generate_password();
        create_account(
            db,
            NewAccount {
                observatory_id,
                organization_id,
                email,
                name,
                role,
                language: Lang::Es,
                password: Some(&password),
            },
        )
        .await?;
        accounts.push(DemoAccount {
            role,
            email: email.to_string(),
            password,
        });
    }
    Ok(Some(accounts))
}

/// 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I): ~92 bits, easy to type.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}
