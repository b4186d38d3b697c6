import { z } from "zod";
import { knownStorageDriverNames } from "../../registry/storage/drivers.js";
import { GiB, MiB } from "../units.js";
import { absoluteUrl, anyMap, bool, describeValue, duration, Failure, int, leaf, nonEmptyStr, oneOf, size, str, strList, toBoolean, toText } from "./scalars.js";
import { optional, optionalParams, scalarAsKey, section, withDefault } from "./structure.js";

const filesystemDriver = section(
  {
    rootdirectory: withDefault(nonEmptyStr(), "/var/lib/registry"),
    maxthreads: optional(int({ min: 1 })),
  },
  { open: true },
);

const s3Driver = section(
  {
    accesskey: optional(str()),
    secretkey: optional(str()),
    region: nonEmptyStr(),
    regionendpoint: optional(str()),
    forcepathstyle: optional(bool()),
    bucket: nonEmptyStr(),
    encrypt: optional(bool()),
    keyid: optional(str()),
    secure: optional(bool()),
    skipverify: optional(bool()),
    v4auth: optional(bool()),
    chunksize: optional(size({ min: 5 * MiB, max: 5 * GiB })),
    multipartcopychunksize: optional(size({ min: 5 * MiB, max: 5 * GiB })),
    multipartcopymaxconcurrency: optional(int({ min: 1 })),
    multipartcopythresholdsize: optional(size({ min: 0, max: 5 * GiB })),
    rootdirectory: optional(str()),
    storageclass: optional(str()),
    useragent: optional(str()),
    usedualstack: optional(bool()),
    accelerate: optional(bool()),
    objectacl: optional(str()),
    loglevel: optional(str()),
  },
  { open: true },
);

/** `internal` is a boolean in distribution's driver, but LAIN's examples put an endpoint there. */
const boolOrText = () =>
  leaf("a boolean or a string", (value) => toBoolean(value) ?? toText(value) ?? new Failure(`expected a boolean or a string, got ${describeValue(value)}`));

const ossDriver = section(
  {
    accesskeyid: nonEmptyStr(),
    accesskeysecret: nonEmptyStr(),
    region: nonEmptyStr(),
    endpoint: optional(str()),
    internal: optional(boolOrText()),
    bucket: nonEmptyStr(),
    encrypt: optional(bool()),
    encryptionkeyid: optional(str()),
    secure: optional(bool()),
    chunksize: optional(size({ min: 5 * MiB })),
    rootdirectory: optional(str()),
  },
  { open: true },
);

/** Distribution's azure parameters; 3.x's retry and copy-polling settings are accepted and have no effect. */
const azureDriver = section(
  {
    accountname: nonEmptyStr(),
    accountkey: nonEmptyStr(),
    container: nonEmptyStr(),
    realm: optional(str()),
    serviceurl: optional(absoluteUrl()),
    rootdirectory: optional(str()),
    max_retries: optional(int({ min: -1 })),
    retry_delay: optional(str()),
    copy_status_poll_max_retry: optional(int({ min: -1 })),
    copy_status_poll_delay: optional(str()),
    credentials: optional(
      section(
        {
          type: optional(oneOf(["shared_key", "client_secret", "default_credentials"] as const)),
          clientid: optional(str()),
          tenantid: optional(str()),
          secret: optional(str()),
        },
        { open: true },
      ),
    ),
  },
  { open: true },
);

const swiftDriver = section(
  {
    authurl: absoluteUrl(),
    username: nonEmptyStr(),
    password: nonEmptyStr(),
    container: nonEmptyStr(),
    authversion: optional(int({ min: 1, max: 3 })),
    region: optional(str()),
    tenant: optional(str()),
    tenantid: optional(str()),
    domain: optional(str()),
    domainid: optional(str()),
    tenantdomain: optional(str()),
    tenantdomainid: optional(str()),
    trustid: optional(str()),
    endpointtype: optional(oneOf(["public", "internal", "admin"] as const)),
    prefix: optional(str()),
    rootdirectory: optional(str()),
    insecureskipverify: optional(bool()),
    chunksize: optional(size({ min: 1 * MiB, max: 5 * GiB })),
    accesskey: optional(str()),
    secretkey: optional(str()),
    tempurlcontainerkey: optional(bool()),
    tempurlmethods: optional(strList()),
  },
  { open: true },
);

/** Every driver name distribution has (or had); server/registry/storage/drivers.ts is the list. */
export const knownStorageDrivers: readonly string[] = knownStorageDriverNames;

export const storageSchema = z.preprocess(
    scalarAsKey,
    section(
      {
        filesystem: optionalParams(filesystemDriver),
        inmemory: optionalParams(anyMap()),
        s3: optionalParams(s3Driver),
        oss: optionalParams(ossDriver),
        azure: optionalParams(azureDriver),
        gcs: optionalParams(anyMap()),
        swift: optionalParams(swiftDriver),
        rados: optionalParams(anyMap()),
        delete: optional(section({ enabled: optional(bool()) }, { open: true })),
        cache: optional(
          section(
            {
              blobdescriptor: optional(oneOf(["inmemory", "redis"] as const)),
              blobdescriptorsize: optional(int({ min: 1 })),
              layerinfo: optional(oneOf(["inmemory", "redis"] as const)),
            },
            { open: true },
          ),
        ),
        maintenance: optional(
          section(
            {
              uploadpurging: optional(
                section(
                  { enabled: optional(bool()), age: optional(duration()), interval: optional(duration()), dryrun: optional(bool()) },
                  { open: true },
                ),
              ),
              readonly: optional(section({ enabled: optional(bool()) }, { open: true })),
            },
            { open: true },
          ),
        ),
        redirect: optional(section({ disable: optional(bool()) }, { open: true })),
        tag: optional(section({ concurrencylimit: optional(int({ min: 1 })) }, { open: true })),
      },
      { open: true, skipUnknownKeyWarnings: true, scalarAsKey: true },
    ),
);

/** Keys of `storage` that configure something other than the driver. */
export const storageOptionKeys = new Set(["delete", "maintenance", "redirect", "cache", "tag"]);
