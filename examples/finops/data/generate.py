#!/usr/bin/env python3
"""Generates the FinOps sample billing data: one month (November 2025) of billing exports from three clouds.

Each provider writes its own export format, as the real ones differ: AWS Cost and Usage Report columns and
ISO timestamps, a Google Cloud billing export with dotted column names, Azure usage details with US dates and
JSON tags. Normalizing these into one schema is the billing normalizer's job. 5,000 line items each, 15,000 in
all. Three anomalies are injected (a day of spend far above its service's baseline) and listed, as ground
truth, in anomalies.json.

Deterministic: the same script writes the same bytes. `--check` compares the files with a fresh generation
instead of writing them (CI runs it). Standard library only. Amounts are exact decimal strings (micro-dollars).
"""

import csv
import io
import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
MONTH_START = date(2025, 11, 1)
DAYS = 30
ROWS_PER_PROVIDER = 5000

# (service, usage type / sku, unit, baseline micro-dollars per line item, relative frequency)
AWS = [
    ("AmazonEC2", "BoxUsage:m6i.xlarge", "Hrs", 4_600_000, 30),
    ("AmazonEC2", "BoxUsage:p4d.24xlarge", "Hrs", 78_600_000, 2),
    ("AmazonRDS", "InstanceUsage:db.r6g.large", "Hrs", 5_800_000, 10),
    ("AmazonS3", "TimedStorage-ByteHrs", "GB-Mo", 1_150_000, 15),
    ("AWSDataTransfer", "DataTransfer-Out-Bytes", "GB", 2_700_000, 8),
    ("AWSLambda", "Lambda-GB-Second", "GB-Seconds", 350_000, 10),
]
GCP = [
    ("Compute Engine", "N2 Instance Core running in Americas", "hour", 3_900_000, 30),
    ("BigQuery", "Analysis", "tebibyte", 6_250_000, 8),
    ("Cloud Storage", "Standard Storage US Multi-region", "gibibyte month", 900_000, 15),
    ("Cloud SQL", "Cloud SQL for PostgreSQL: Zonal - vCPU", "hour", 2_100_000, 10),
    ("Kubernetes Engine", "Autopilot Pod mCPU Requests", "hour", 1_600_000, 12),
]
AZURE = [
    ("Virtual Machines", "D4s v5", "1 Hour", 4_300_000, 30),
    ("Storage", "Hot LRS Data Stored", "1 GB/Month", 800_000, 15),
    ("Bandwidth", "Standard Data Transfer Out", "1 GB", 1_900_000, 8),
    ("SQL Database", "vCore", "1 Hour", 5_100_000, 10),
    ("Azure Cosmos DB", "100 RU/s", "1/Day", 1_300_000, 8),
]

# The injected anomalies: (provider, service, day of month, multiplier).
ANOMALIES = [
    ("aws", "AmazonEC2", 14, 12),
    ("gcp", "BigQuery", 21, 8),
    ("azure", "Bandwidth", 27, 10),
]

REGIONS = {
    "aws": ["us-east-1", "us-west-2", "eu-west-1"],
    "gcp": ["us-central1", "europe-west1", "asia-east1"],
    "azure": ["eastus", "westeurope", "southeastasia"],
}
TEAMS = ["payments", "search", "data-platform", "web", "ml"]
ACCOUNTS = {
    "aws": ["111122223333", "444455556666", "777788889999"],
    "gcp": ["acme-prod", "acme-analytics", "acme-staging"],
    "azure": [
        "2f1c6a4e-7b1d-4c1e-9a57-1d2b3c4d5e6f",
        "8a9b0c1d-2e3f-4a5b-8c7d-9e0f1a2b3c4d",
    ],
}


def dollars(micros):
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def line_items(provider, catalog, rng):
    """Yields (day, service, sku, unit, account, region, team, usage, cost_micros) for one provider."""
    weights = [entry[4] for entry in catalog]
    spikes = {(service, day): factor for p, service, day, factor in ANOMALIES if p == provider}
    for i in range(ROWS_PER_PROVIDER):
        day = i * DAYS // ROWS_PER_PROVIDER
        service, sku, unit, baseline, _ = rng.choices(catalog, weights)[0]
        cost = baseline * rng.randint(80, 120) // 100
        cost *= spikes.get((service, day + 1), 1)
        usage = f"{rng.randint(1, 2400) / 100:.2f}"
        yield (
            day,
            service,
            sku,
            unit,
            rng.choice(ACCOUNTS[provider]),
            rng.choice(REGIONS[provider]),
            rng.choice(TEAMS),
            usage,
            cost,
        )


def aws(rng):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([
        "identity/LineItemId", "lineItem/UsageAccountId", "lineItem/UsageStartDate", "lineItem/ProductCode",
        "lineItem/UsageType", "product/region", "lineItem/UsageAmount", "pricing/unit",
        "lineItem/UnblendedCost", "lineItem/CurrencyCode", "resourceTags/user:team",
    ])
    for n, (day, service, sku, unit, account, region, team, usage, cost) in enumerate(line_items("aws", AWS, rng)):
        start = MONTH_START + timedelta(days=day)
        writer.writerow([
            f"li-{n:06d}", account, f"{start.isoformat()}T00:00:00Z", service, sku, region, usage, unit,
            dollars(cost), "USD", team,
        ])
    return out.getvalue()


def gcp(rng):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([
        "project.id", "service.description", "sku.description", "usage_start_time", "location.region",
        "usage.amount", "usage.unit", "cost", "currency", "labels.team",
    ])
    for day, service, sku, unit, account, region, team, usage, cost in line_items("gcp", GCP, rng):
        start = MONTH_START + timedelta(days=day)
        writer.writerow([
            account, service, sku, f"{start.isoformat()} 00:00:00 UTC", region, usage, unit, dollars(cost),
            "USD", team,
        ])
    return out.getvalue()


def azure(rng):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([
        "SubscriptionId", "Date", "MeterCategory", "MeterName", "ResourceLocation", "Quantity", "UnitOfMeasure",
        "CostInBillingCurrency", "BillingCurrency", "Tags",
    ])
    for day, service, sku, unit, account, region, team, usage, cost in line_items("azure", AZURE, rng):
        start = MONTH_START + timedelta(days=day)
        tags = json.dumps({"team": team}, separators=(",", ":"))
        writer.writerow([
            account, start.strftime("%m/%d/%Y"), service, sku, region, usage, unit, dollars(cost), "USD", tags,
        ])
    return out.getvalue()


def generate():
    rng = random.Random(20251101)
    files = {
        "aws-cur-2025-11.csv": aws(rng),
        "gcp-billing-2025-11.csv": gcp(rng),
        "azure-usage-2025-11.csv": azure(rng),
    }
    truth = [
        {"provider": p, "service": s, "date": (MONTH_START + timedelta(days=d - 1)).isoformat(), "multiplier": f}
        for p, s, d, f in ANOMALIES
    ]
    files["anomalies.json"] = json.dumps({"period": "2025-11", "anomalies": truth}, indent=2) + "\n"
    return files


def main():
    files = generate()
    if "--check" in sys.argv[1:]:
        stale = [name for name, text in files.items() if (HERE / name).read_text() != text] \
            if all((HERE / name).exists() for name in files) else list(files)
        if stale:
            sys.exit(f"sample data is stale or missing: {', '.join(stale)}; run `just sample-data` and commit")
        print(f"sample data: {sum(text.count(chr(10)) - 1 for name, text in files.items() if name.endswith('.csv'))} "
              "records, up to date")
        return
    for name, text in files.items():
        (HERE / name).write_text(text)
    print(f"wrote {', '.join(files)} in {HERE}")


if __name__ == "__main__":
    main()
