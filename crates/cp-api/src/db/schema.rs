// @generated automatically by Diesel CLI.

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Bytea, Integer, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    api_keys (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        prefix -> Text,
        secret_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Bytea, Integer, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    memberships (org_id, user_id) {
        org_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Bytea, Integer, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    orgs (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Bytea, Integer, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        is_platform_admin -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(memberships -> orgs (org_id));
diesel::joinable!(memberships -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(api_keys, memberships, orgs, users,);
