/**
 * The schema of the metadata index, for SQLite and for MySQL/MariaDB. The index is a cache of
 * storage, so a schema change simply drops everything and the next start rebuilds: bump
 * `schemaVersion` with any change below. Every table name starts with `berth_`, so a MySQL
 * database may be shared with other applications.
 */
export const schemaVersion = 2;

/** Berth's tables, for dropping them (in an order foreign to no constraint: there are none). */
export const tableNames = [
  "berth_meta",
  "berth_repositories",
  "berth_manifests",
  "berth_tags",
  "berth_layers",
  "berth_blobs",
  "berth_blob_totals",
  "berth_activity",
] as const;

export const sqliteSchema = `
CREATE TABLE berth_meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per repository; the aggregates are recomputed whenever the repository changes.
CREATE TABLE berth_repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  tag_count INTEGER NOT NULL DEFAULT 0,
  manifest_count INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  logical_size INTEGER NOT NULL DEFAULT 0, -- the sum of its tags' sizes
  last_push INTEGER NOT NULL DEFAULT 0,  -- epoch ms; 0 = never
  seen INTEGER NOT NULL DEFAULT 0,       -- the rebuild pass that last saw it
  changes INTEGER NOT NULL DEFAULT 0     -- event updates so far: a rebuild's older snapshot must not overwrite them
);
CREATE INDEX repositories_namespace ON berth_repositories(namespace, name);
CREATE INDEX repositories_tags ON berth_repositories(tag_count, name);
CREATE INDEX repositories_size ON berth_repositories(size, name);
CREATE INDEX repositories_pushed ON berth_repositories(last_push, name);

-- The manifests (revisions) of each repository, with the facts their content gives.
CREATE TABLE berth_manifests (
  repository_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  kind TEXT NOT NULL,
  manifest_size INTEGER NOT NULL,
  size INTEGER NOT NULL,
  children INTEGER NOT NULL,
  created INTEGER,
  platforms TEXT NOT NULL,      -- JSON [{os, architecture, variant?}]
  artifact_type TEXT,
  pushed INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;

-- Tags carry a copy of their manifest's sort keys (immutable per digest) so every sort has an index.
CREATE TABLE berth_tags (
  repository_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER,
  pushed INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;
CREATE INDEX tags_digest ON berth_tags(repository_id, digest);
CREATE INDEX tags_size ON berth_tags(repository_id, size, name);
CREATE INDEX tags_created ON berth_tags(repository_id, created, name);
CREATE INDEX tags_pushed ON berth_tags(repository_id, pushed, name);

-- Config (position -1) and layers of each image manifest.
CREATE TABLE berth_layers (
  repository_id INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  position INTEGER NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  media_type TEXT NOT NULL,
  PRIMARY KEY (repository_id, manifest, position)
) WITHOUT ROWID;
CREATE INDEX layers_repository_digest ON berth_layers(repository_id, digest, size);

-- Distinct blobs across the registry, kept by triggers on layers (refs = referencing layer rows).
CREATE TABLE berth_blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  refs INTEGER NOT NULL
) WITHOUT ROWID;

-- Their count and total size, so the dashboard does not scan them.
CREATE TABLE berth_blob_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO berth_blob_totals (id, count, bytes) VALUES (1, 0, 0);

CREATE TRIGGER blobs_insert AFTER INSERT ON berth_blobs BEGIN
  UPDATE berth_blob_totals SET count = count + 1, bytes = bytes + new.size WHERE id = 1;
END;
CREATE TRIGGER blobs_delete AFTER DELETE ON berth_blobs BEGIN
  UPDATE berth_blob_totals SET count = count - 1, bytes = bytes - old.size WHERE id = 1;
END;

CREATE TRIGGER layers_insert AFTER INSERT ON berth_layers BEGIN
  INSERT INTO berth_blobs (digest, size, refs) VALUES (new.digest, new.size, 1)
    ON CONFLICT (digest) DO UPDATE SET refs = refs + 1;
END;
CREATE TRIGGER layers_delete AFTER DELETE ON berth_layers BEGIN
  UPDATE berth_blobs SET refs = refs - 1 WHERE digest = old.digest;
  DELETE FROM berth_blobs WHERE digest = old.digest AND refs <= 0;
END;

-- Pushes and deletes as the registry reported them; trimmed to the newest rows.
CREATE TABLE berth_activity (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT,
  digest TEXT,
  media_type TEXT,
  size INTEGER
);
`;

/*
 * The same tables for InnoDB, one statement each (the server takes one per query). utf8mb4_bin
 * compares and orders as SQLite does (by code point, case-sensitive); names, tags and digests are
 * bounded by the distribution grammar (255, 128, and well under 200 characters).
 */
const table = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
export const mysqlSchema: readonly string[] = [
  `CREATE TABLE berth_meta (name VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL) ${table}`,
  `CREATE TABLE berth_repositories (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL UNIQUE,
    namespace VARCHAR(255) NOT NULL,
    tag_count BIGINT NOT NULL DEFAULT 0,
    manifest_count BIGINT NOT NULL DEFAULT 0,
    size BIGINT NOT NULL DEFAULT 0,
    logical_size BIGINT NOT NULL DEFAULT 0,
    last_push BIGINT NOT NULL DEFAULT 0,
    seen BIGINT NOT NULL DEFAULT 0,
    changes BIGINT NOT NULL DEFAULT 0,
    KEY repositories_namespace (namespace, name),
    KEY repositories_tags (tag_count, name),
    KEY repositories_size (size, name),
    KEY repositories_pushed (last_push, name)
  ) ${table}`,
  `CREATE TABLE berth_manifests (
    repository_id BIGINT NOT NULL,
    digest VARCHAR(200) NOT NULL,
    media_type TEXT NOT NULL,
    kind VARCHAR(16) NOT NULL,
    manifest_size BIGINT NOT NULL,
    size BIGINT NOT NULL,
    children BIGINT NOT NULL,
    created BIGINT,
    platforms TEXT NOT NULL,
    artifact_type TEXT,
    pushed BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
  ) ${table}`,
  `CREATE TABLE berth_tags (
    repository_id BIGINT NOT NULL,
    name VARCHAR(128) NOT NULL,
    digest VARCHAR(200) NOT NULL,
    size BIGINT NOT NULL,
    created BIGINT,
    pushed BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name),
    KEY tags_digest (repository_id, digest),
    KEY tags_size (repository_id, size, name),
    KEY tags_created (repository_id, created, name),
    KEY tags_pushed (repository_id, pushed, name)
  ) ${table}`,
  `CREATE TABLE berth_layers (
    repository_id BIGINT NOT NULL,
    manifest VARCHAR(200) NOT NULL,
    position INT NOT NULL,
    digest VARCHAR(200) NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (repository_id, manifest, position),
    KEY layers_repository_digest (repository_id, digest, size)
  ) ${table}`,
  `CREATE TABLE berth_blobs (digest VARCHAR(200) PRIMARY KEY, size BIGINT NOT NULL, refs BIGINT NOT NULL) ${table}`,
  `CREATE TABLE berth_blob_totals (id TINYINT PRIMARY KEY, count BIGINT NOT NULL, bytes BIGINT NOT NULL) ${table}`,
  "INSERT INTO berth_blob_totals (id, count, bytes) VALUES (1, 0, 0)",
  `CREATE TRIGGER berth_blobs_insert AFTER INSERT ON berth_blobs FOR EACH ROW
    UPDATE berth_blob_totals SET count = count + 1, bytes = bytes + NEW.size WHERE id = 1`,
  `CREATE TRIGGER berth_blobs_delete AFTER DELETE ON berth_blobs FOR EACH ROW
    UPDATE berth_blob_totals SET count = count - 1, bytes = bytes - OLD.size WHERE id = 1`,
  `CREATE TRIGGER berth_layers_insert AFTER INSERT ON berth_layers FOR EACH ROW
    INSERT INTO berth_blobs (digest, size, refs) VALUES (NEW.digest, NEW.size, 1) ON DUPLICATE KEY UPDATE refs = refs + 1`,
  `CREATE TRIGGER berth_layers_delete AFTER DELETE ON berth_layers FOR EACH ROW BEGIN
    UPDATE berth_blobs SET refs = refs - 1 WHERE digest = OLD.digest;
    DELETE FROM berth_blobs WHERE digest = OLD.digest AND refs <= 0;
  END`,
  `CREATE TABLE berth_activity (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    time BIGINT NOT NULL,
    type VARCHAR(32) NOT NULL,
    repository VARCHAR(255) NOT NULL,
    tag VARCHAR(128),
    digest VARCHAR(200),
    media_type TEXT,
    size BIGINT
  ) ${table}`,
];
