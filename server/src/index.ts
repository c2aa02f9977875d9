// The service as a library: start Chime inside another process (tests, embedding).
export type { ChimeService } from "./chime-service.js";
export { NatsMissingError, startChime } from "./chime-service.js";
export type { ChimeConfig, RawSettings } from "./config.js";
export { ConfigError, resolveConfig, SETTINGS } from "./config.js";
export type { EngineHooks, FireReport } from "./engine/engine.js";
export { createLogger } from "./log.js";
