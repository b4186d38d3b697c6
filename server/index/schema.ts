/**
 * The SQLite schema of the metadata index. It is a cache of storage, so a schema change simply
 * drops everything and the next start rebuilds: bump `schemaVersion` with any change below.
 */
export const schemaVersion = 1;

export const schemaSql = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per repository; the aggregates are recomputed whenever the repository changes.
CREATE TABLE repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  tag_count INTEGER NOT NULL DEFAULT 0,
  manifest_count INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  logical_size INTEGER NOT NULL DEFAULT 0, -- the sum of its tags' sizes
  last_push INTEGER NOT NULL DEFAULT 0,  -- epoch ms; 0 = never
  seen INTEGER NOT NULL DEFAULT 0        -- the rebuild pass that last saw it
);
CREATE INDEX repositories_namespace ON repositories(namespace, name);
CREATE INDEX repositories_tags ON repositories(tag_count, name);
CREATE INDEX repositories_size ON repositories(size, name);
CREATE INDEX repositories_pushed ON repositories(last_push, name);

-- The manifests (revisions) of each repository, with the facts their content gives.
CREATE TABLE manifests (
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
CREATE TABLE tags (
  repository_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER,
  pushed INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;
CREATE INDEX tags_digest ON tags(repository_id, digest);
CREATE INDEX tags_size ON tags(repository_id, size, name);
CREATE INDEX tags_created ON tags(repository_id, created, name);
CREATE INDEX tags_pushed ON tags(repository_id, pushed, name);

-- Config (position -1) and layers of each image manifest.
CREATE TABLE layers (
  repository_id INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  position INTEGER NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  media_type TEXT NOT NULL,
  PRIMARY KEY (repository_id, manifest, position)
) WITHOUT ROWID;
CREATE INDEX layers_repository_digest ON layers(repository_id, digest, size);

-- Distinct blobs across the registry, kept by triggers on layers (refs = referencing layer rows).
CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  refs INTEGER NOT NULL
) WITHOUT ROWID;

-- Their count and total size, so the dashboard does not scan them.
CREATE TABLE blob_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO blob_totals (id, count, bytes) VALUES (1, 0, 0);

CREATE TRIGGER blobs_insert AFTER INSERT ON blobs BEGIN
  UPDATE blob_totals SET count = count + 1, bytes = bytes + new.size WHERE id = 1;
END;
CREATE TRIGGER blobs_delete AFTER DELETE ON blobs BEGIN
  UPDATE blob_totals SET count = count - 1, bytes = bytes - old.size WHERE id = 1;
END;

CREATE TRIGGER layers_insert AFTER INSERT ON layers BEGIN
  INSERT INTO blobs (digest, size, refs) VALUES (new.digest, new.size, 1)
    ON CONFLICT (digest) DO UPDATE SET refs = refs + 1;
END;
CREATE TRIGGER layers_delete AFTER DELETE ON layers BEGIN
  UPDATE blobs SET refs = refs - 1 WHERE digest = old.digest;
  DELETE FROM blobs WHERE digest = old.digest AND refs <= 0;
END;

-- Pushes and deletes as the registry reported them; trimmed to the newest rows.
CREATE TABLE activity (
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
