import { type Logger, pino } from "pino";

export const LogFormat = { json: "json", pretty: "pretty" } as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

export function createLogger(level: string, format: LogFormat): Logger {
  if (format === LogFormat.pretty) {
    return pino({
      level,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" },
      },
    });
  }
  return pino({ level, base: { service: "chime" } });
}
