-- trustgen manifest repository, schema 1. {bytes} is BLOB on SQLite and BYTEA on PostgreSQL.
CREATE TABLE manifests (
    manifest_id    TEXT PRIMARY KEY,
    store_bytes    {bytes} NOT NULL,
    asset_sha256   TEXT,
    signer         TEXT,
    signed_at      TEXT,
    registered_at  TEXT NOT NULL,
    fingerprint    {bytes},
    fp_quality     INTEGER,
    b0 INTEGER, b1 INTEGER, b2 INTEGER, b3 INTEGER, b4 INTEGER, b5 INTEGER, b6 INTEGER, b7 INTEGER,
    b8 INTEGER, b9 INTEGER, b10 INTEGER, b11 INTEGER, b12 INTEGER, b13 INTEGER, b14 INTEGER, b15 INTEGER
);
CREATE INDEX manifests_asset ON manifests (asset_sha256);
CREATE INDEX manifests_b0 ON manifests (b0);
CREATE INDEX manifests_b1 ON manifests (b1);
CREATE INDEX manifests_b2 ON manifests (b2);
CREATE INDEX manifests_b3 ON manifests (b3);
CREATE INDEX manifests_b4 ON manifests (b4);
CREATE INDEX manifests_b5 ON manifests (b5);
CREATE INDEX manifests_b6 ON manifests (b6);
CREATE INDEX manifests_b7 ON manifests (b7);
CREATE INDEX manifests_b8 ON manifests (b8);
CREATE INDEX manifests_b9 ON manifests (b9);
CREATE INDEX manifests_b10 ON manifests (b10);
CREATE INDEX manifests_b11 ON manifests (b11);
CREATE INDEX manifests_b12 ON manifests (b12);
CREATE INDEX manifests_b13 ON manifests (b13);
CREATE INDEX manifests_b14 ON manifests (b14);
CREATE INDEX manifests_b15 ON manifests (b15);
CREATE TABLE soft_bindings (
    alg          TEXT NOT NULL,
    value        TEXT NOT NULL,
    manifest_id  TEXT NOT NULL REFERENCES manifests (manifest_id),
    params       TEXT NOT NULL,
    PRIMARY KEY (alg, value, manifest_id)
);
CREATE INDEX soft_bindings_manifest ON soft_bindings (manifest_id);
CREATE TABLE api_keys (
    name     TEXT PRIMARY KEY,
    sha256   TEXT NOT NULL UNIQUE,
    created  TEXT NOT NULL,
    revoked  TEXT
);
