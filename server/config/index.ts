/** server/config's public API in one place (the modules can also be imported directly). */
export { parseListenAddress, checkListenAddress, type ListenAddress } from "./address.js";
export { dryRun, probeDirectory, type DryRunOptions, type ProbeDriver } from "./dryrun.js";
export { applyEnvOverrides, envPrefix, type EnvOverrideResult, type EnvSource } from "./env.js";
export { implementedKeys, implementedStorageDrivers, unimplementedKeys, type UnimplementedOptions } from "./features.js";
export {
  ConfigError,
  defaultConfigDocument,
  loadConfig,
  loadConfigWithWarnings,
  parseConfig,
  storageDriver,
  storageDriverNames,
  type LoadedConfig,
  type LoadOptions,
} from "./load.js";
export { formatProblem, type Problem, type ValidationResult } from "./problems.js";
export { printConfig, redactConfig, toDocument, REDACTED } from "./redact.js";
export {
  configSchema,
  defaultEtcdAuthKey,
  knownAuthMethods,
  knownStorageDrivers,
  storageOptionKeys,
  storageSchema,
  type Config,
  type StorageConfig,
} from "./schema.js";
export { formatDuration, parseDuration, parseSize } from "./units.js";
export { validateConfigText, validateDocument, type ValidateOptions } from "./validate.js";
