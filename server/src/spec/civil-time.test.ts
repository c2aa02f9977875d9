import { describe, expect, it } from "vitest";
import {
  civilFromDays,
  civilFromWall,
  daysFromCivil,
  daysInMonth,
  isLeapYear,
  wallFromCivil,
  weekdayFromDays,
} from "./civil-time.js";

describe("civil calendar arithmetic", () => {
  it("agrees with Date over a wide range of days", () => {
    for (let days = -800_000; days <= 800_000; days += 997) {
      const date = new Date(days * 86_400_000);
      const civil = civilFromDays(days);
      expect(civil).toEqual({
        year: date.getUTCFullYear(),
        month: date.getUTCMonth() + 1,
        day: date.getUTCDate(),
      });
      expect(daysFromCivil(civil.year, civil.month, civil.day)).toBe(days);
      expect(weekdayFromDays(days)).toBe(date.getUTCDay());
    }
  });

  it("knows the Gregorian leap years", () => {
    expect([1900, 2000, 2024, 2026, 2100, 2400].map(isLeapYear)).toEqual([
      false,
      true,
      true,
      false,
      false,
      true,
    ]);
    expect(daysInMonth(2028, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(daysInMonth(2026, 4)).toBe(30);
    expect(daysInMonth(2026, 12)).toBe(31);
  });

  it("encodes years below 100 without Date.UTC's 1900 offset", () => {
    const wall = wallFromCivil(50, 6, 1, 12, 30, 15, 250);
    expect(new Date(wall).toISOString()).toBe("0050-06-01T12:30:15.250Z");
    expect(civilFromWall(wall)).toEqual({
      year: 50,
      month: 6,
      day: 1,
      hour: 12,
      minute: 30,
      second: 15,
      millisecond: 250,
    });
  });

  it("decodes negative wall times", () => {
    expect(civilFromWall(-1)).toEqual({
      year: 1969,
      month: 12,
      day: 31,
      hour: 23,
      minute: 59,
      second: 59,
      millisecond: 999,
    });
  });
});
