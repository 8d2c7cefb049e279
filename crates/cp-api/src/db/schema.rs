// @generated automatically by Diesel CLI.

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    approvals (id) {
        id -> Uuid,
        org_id -> Uuid,
        run_id -> Uuid,
        deployment_id -> Uuid,
        task_id -> Uuid,
        node -> Text,
        action -> Text,
        impact -> Text,
        reason -> Nullable<Text>,
        decider_role -> Text,
        state -> Text,
        requested_at -> Timestamptz,
        expires_at -> Timestamptz,
        decided_by -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
        comment -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    agent_versions (id) {
        id -> Uuid,
        agent -> Uuid,
        version -> Text,
        state -> Text,
        manifest -> Text,
        digest -> Text,
        submitted_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reviewed_by -> Nullable<Uuid>,
        reviewed_at -> Nullable<Timestamptz>,
        rejection_reason -> Nullable<Text>,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    agents (id) {
        id -> Uuid,
        agent_id -> Text,
        owner_org_id -> Uuid,
        listed -> Bool,
        current_version -> Nullable<Text>,
        name -> Text,
        description -> Text,
        category -> Text,
        tags -> Text,
        capabilities -> Text,
        keywords -> Text,
        pricing_model -> Text,
        price_micros -> Int8,
        risk -> Text,
        installs -> Int8,
        rating_count -> Int4,
        rating_sum -> Int4,
        rating_avg_milli -> Int4,
        stars_1 -> Int4,
        stars_2 -> Int4,
        stars_3 -> Int4,
        stars_4 -> Int4,
        stars_5 -> Int4,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

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
        prev_hash -> Bytea,
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

    changes (id) {
        id -> Int8,
        tx -> Int8,
        org_id -> Uuid,
        topic -> Text,
        subject -> Uuid,
        body -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    charges (run_id) {
        run_id -> Uuid,
        org_id -> Uuid,
        developer_org_id -> Uuid,
        deployment_id -> Uuid,
        agent -> Text,
        base_micros -> Int8,
        unit -> Nullable<Text>,
        unit_count -> Int8,
        units_micros -> Int8,
        cpu_ms -> Int8,
        compute_micros -> Int8,
        total_micros -> Int8,
        developer_share -> Int4,
        developer_micros -> Int8,
        platform_micros -> Int8,
        charged_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    data_planes (deployment_id, instance_id) {
        deployment_id -> Uuid,
        instance_id -> Text,
        version -> Text,
        capabilities -> Text,
        concurrency -> Int4,
        registered_at -> Timestamptz,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    deployments (id) {
        id -> Uuid,
        org_id -> Uuid,
        agent -> Uuid,
        version -> Text,
        previous_version -> Nullable<Text>,
        deployment_type -> Text,
        state -> Text,
        config -> Text,
        granted_permissions -> Text,
        credential_prefix -> Text,
        credential_hash -> Bytea,
        installed_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        uninstalled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    invoice_lines (invoice_id, agent, kind) {
        invoice_id -> Uuid,
        agent -> Text,
        kind -> Text,
        quantity -> Int8,
        unit -> Nullable<Text>,
        amount_micros -> Int8,
        developer_micros -> Int8,
        platform_micros -> Int8,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    invoices (id) {
        id -> Uuid,
        org_id -> Uuid,
        period -> Text,
        state -> Text,
        total_micros -> Int8,
        issued_at -> Timestamptz,
        paid_at -> Nullable<Timestamptz>,
        voided_at -> Nullable<Timestamptz>,
        payment_reference -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    ledger_entries (journal_id, account) {
        journal_id -> Uuid,
        account -> Text,
        amount_micros -> Int8,
        at -> Timestamptz,
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
        forbid_self_approval -> Bool,
        monthly_run_quota -> Nullable<Int8>,
        monthly_spend_cap_micros -> Nullable<Int8>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    payouts (id) {
        id -> Uuid,
        developer_org_id -> Uuid,
        period -> Text,
        earned_micros -> Int8,
        carried_in_micros -> Int8,
        amount_micros -> Int8,
        carried_out_micros -> Int8,
        state -> Text,
        created_at -> Timestamptz,
        paid_at -> Nullable<Timestamptz>,
        payment_reference -> Nullable<Text>,
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

    reviews (id) {
        id -> Uuid,
        agent -> Uuid,
        user_id -> Uuid,
        stars -> Int4,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reply -> Nullable<Text>,
        replied_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    run_events (run_id, attempt, seq) {
        run_id -> Uuid,
        attempt -> Int4,
        seq -> Int8,
        at -> Timestamptz,
        kind -> Text,
        body -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    runs (id) {
        id -> Uuid,
        org_id -> Uuid,
        deployment_id -> Uuid,
        state -> Text,
        inputs -> Text,
        outputs -> Nullable<Text>,
        priority -> Int4,
        deadline -> Nullable<Timestamptz>,
        idempotency_key -> Nullable<Text>,
        request_digest -> Text,
        failure_reason -> Nullable<Text>,
        usage -> Nullable<Text>,
        attempts -> Int4,
        finished_by_task -> Nullable<Uuid>,
        checkpoint -> Nullable<Text>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        max_charge_micros -> Nullable<Int8>,
        traceparent -> Nullable<Text>,
        tracestate -> Nullable<Text>,
        parent_run_id -> Nullable<Uuid>,
        version -> Nullable<Text>,
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

    subscription_charges (subscription_id, period) {
        subscription_id -> Uuid,
        period -> Text,
        journal_id -> Uuid,
        org_id -> Uuid,
        developer_org_id -> Uuid,
        deployment_id -> Uuid,
        agent -> Text,
        total_micros -> Int8,
        developer_share -> Int4,
        developer_micros -> Int8,
        platform_micros -> Int8,
        charged_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    subscriptions (id) {
        id -> Uuid,
        org_id -> Uuid,
        deployment_id -> Uuid,
        developer_org_id -> Uuid,
        agent -> Text,
        monthly_micros -> Int8,
        created_by -> Uuid,
        created_at -> Timestamptz,
        cancelled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    tasks (id) {
        id -> Uuid,
        run_id -> Uuid,
        deployment_id -> Uuid,
        priority -> Int4,
        attempt -> Int4,
        max_attempts -> Int4,
        leased_by -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamptz>,
        cancel_requested -> Bool,
        last_seq -> Int8,
        created_at -> Timestamptz,
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

diesel::table! {
    use diesel::sql_types::{Bool, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    webhooks (id) {
        id -> Uuid,
        org_id -> Uuid,
        url -> Text,
        events -> Text,
        format -> Text,
        description -> Nullable<Text>,
        secret -> Text,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::{Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    webhook_deliveries (id) {
        id -> Uuid,
        webhook_id -> Uuid,
        org_id -> Uuid,
        change_id -> Nullable<Int8>,
        event -> Text,
        body -> Text,
        state -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::{Int4, Int8, Nullable, Text};
    use crate::db::sql_types::{Timestamptz, Uuid};

    webhook_attempts (id) {
        id -> Uuid,
        delivery_id -> Uuid,
        attempt -> Int4,
        at -> Timestamptz,
        status -> Nullable<Int4>,
        error -> Nullable<Text>,
        duration_ms -> Int8,
    }
}

diesel::table! {
    use diesel::sql_types::{Int4, Int8};

    webhook_cursor (id) {
        id -> Int4,
        tx -> Int8,
        change_id -> Int8,
    }
}

diesel::joinable!(agent_versions -> agents (agent));
diesel::joinable!(approvals -> deployments (deployment_id));
diesel::joinable!(approvals -> orgs (org_id));
diesel::joinable!(approvals -> runs (run_id));
diesel::joinable!(approvals -> users (decided_by));
diesel::joinable!(agents -> orgs (owner_org_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(changes -> orgs (org_id));
diesel::joinable!(charges -> deployments (deployment_id));
diesel::joinable!(charges -> runs (run_id));
diesel::joinable!(data_planes -> deployments (deployment_id));
diesel::joinable!(deployments -> agents (agent));
diesel::joinable!(deployments -> orgs (org_id));
diesel::joinable!(deployments -> users (installed_by));
diesel::joinable!(invoice_lines -> invoices (invoice_id));
diesel::joinable!(invoices -> orgs (org_id));
diesel::joinable!(memberships -> orgs (org_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(payouts -> orgs (developer_org_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(reviews -> agents (agent));
diesel::joinable!(reviews -> users (user_id));
diesel::joinable!(run_events -> runs (run_id));
diesel::joinable!(runs -> deployments (deployment_id));
diesel::joinable!(runs -> orgs (org_id));
diesel::joinable!(runs -> users (created_by));
diesel::joinable!(subscription_charges -> deployments (deployment_id));
diesel::joinable!(subscription_charges -> subscriptions (subscription_id));
diesel::joinable!(subscriptions -> deployments (deployment_id));
diesel::joinable!(subscriptions -> users (created_by));
diesel::joinable!(tasks -> deployments (deployment_id));
diesel::joinable!(tasks -> runs (run_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhooks -> orgs (org_id));

diesel::allow_tables_to_appear_in_same_query!(
    agent_versions,
    approvals,
    agents,
    api_keys,
    audit_head,
    audit_log,
    changes,
    charges,
    data_planes,
    deployments,
    invoice_lines,
    invoices,
    ledger_entries,
    memberships,
    orgs,
    payouts,
    refresh_tokens,
    reviews,
    run_events,
    runs,
    settings,
    subscription_charges,
    subscriptions,
    tasks,
    users,
    webhook_attempts,
    webhook_cursor,
    webhook_deliveries,
    webhooks,
);
