// @generated automatically by Diesel CLI.

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
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
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    audit_head (id) {
        id -> Int4,
        seq -> Int8,
        hash -> Bytea,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    audit_log (seq) {
        seq -> Int8,
        at -> Timestamptz,
        actor_user_id -> Nullable<Uuid>,
        org_id -> Nullable<Uuid>,
        action -> Text,
        target -> Text,
        change_digest -> Text,
        client_addr -> Nullable<Text>,
        prev_hash -> Bytea,
        hash -> Bytea,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    memberships (org_id, user_id) {
        org_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    orgs (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    settings (name) {
        name -> Text,
        value -> Bytea,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
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
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    audit_head,
    audit_log,
    memberships,
    orgs,
    refresh_tokens,
    settings,
    users,
);
