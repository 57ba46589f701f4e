/**
 * The logger the code depends on: pino's shape, injected, with child loggers scoped by
 * component, queue or job. Only the adapter in src/adapters/log creates one.
 */
export interface Logger {
  fatal(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  trace(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}
