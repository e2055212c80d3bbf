import { describe, expect, it, vi } from "vitest";
import type { Api } from "./api";
import type { FileCheck, ImportArgs } from "./bindings";
import type { DateOrder, FileOutcome, ImportDeps, ProviderChoice } from "./drop";
import { handleDragDrop, importPaths, newProviderName, suggestProvider, summarize } from "./drop";
import { importReport } from "./test-fixtures";

function check(path: string, over: Partial<FileCheck> = {}): FileCheck {
  const name = path.split("/").pop() ?? path;
  const calendar = name.endsWith(".ics");
  return {
    path,
    name,
    kind: calendar ? "calendar" : name.endsWith(".csv") ? "spreadsheet" : "unsupported",
    needs_provider: calendar,
    calendar_name: null,
    calendar_zone: null,
    problem: null,
    date_question: null,
    ...over,
  };
}

const report = importReport;

/** A fake shell: `invoke`-level mocks for check_file and import_file, and a fake screen. */
function fakes(opts: { checks?: Record<string, Partial<FileCheck>>; choice?: ProviderChoice | null; importError?: string; dateOrder?: DateOrder | null } = {}) {
  const checkFile = vi.fn(async (path: string) => check(path, opts.checks?.[path]));
  const importFile = vi.fn(async (args: ImportArgs) => {
    if (opts.importError) throw opts.importError; // the shell rejects with the plain message
    const name = args.path.split("/").pop() ?? args.path;
    return report(name, { provider: args.provider, events: 5, instances: 12, summary: `${name}: 5 events imported (12 busy times in the window)` });
  });
  const pickProvider = vi.fn(async (_f: FileCheck) => (opts.choice === undefined ? { provider: "Dr. Ana Rivera (Demo)", newProviderTz: null } : opts.choice));
  const pickDateOrder = vi.fn(async (_f: FileCheck) => (opts.dateOrder === undefined ? "dmy" : opts.dateOrder));
  const setDropTarget = vi.fn();
  const setBusy = vi.fn();
  const reported: FileOutcome[][] = [];
  const deps: ImportDeps = {
    api: { checkFile, importFile } satisfies Pick<Api, "checkFile" | "importFile">,
    ui: { setDropTarget, pickProvider, pickDateOrder, setBusy, report: (o) => reported.push(o) },
    deskZone: () => "America/Chicago",
  };
  return { deps, checkFile, importFile, pickProvider, pickDateOrder, setDropTarget, setBusy, reported };
}

describe("drag and drop", () => {
  it("shows the overlay while dragging and hides it on leave", () => {
    const f = fakes();
    expect(handleDragDrop({ type: "enter", paths: ["/tmp/a.ics"] }, f.deps)).toBeNull();
    expect(handleDragDrop({ type: "over" }, f.deps)).toBeNull();
    expect(handleDragDrop({ type: "leave" }, f.deps)).toBeNull();
    expect(f.setDropTarget.mock.calls).toEqual([[true], [true], [false]]);
    expect(f.importFile).not.toHaveBeenCalled();
  });

  it("asks whose calendar a dropped .ics is, then imports it for that provider", async () => {
    const f = fakes();
    const outcomes = await handleDragDrop({ type: "drop", paths: ["/home/desk/rivera.ics"], position: { x: 10, y: 10 } }, f.deps);
    expect(f.setDropTarget).toHaveBeenLastCalledWith(false);
    expect(f.checkFile).toHaveBeenCalledWith("/home/desk/rivera.ics");
    expect(f.pickProvider).toHaveBeenCalledTimes(1);
    expect(f.pickProvider.mock.calls[0][0].name).toBe("rivera.ics");
    expect(f.importFile).toHaveBeenCalledWith({ path: "/home/desk/rivera.ics", provider: "Dr. Ana Rivera (Demo)", new_provider_tz: null });
    expect(outcomes?.[0].status).toBe("imported");
    expect(f.reported).toHaveLength(1);
    expect(f.setBusy.mock.calls).toEqual([[true], [false]]);
  });

  it("passes a new provider's zone", async () => {
    const f = fakes({ choice: { provider: "Dr. Lee", newProviderTz: "Europe/London" } });
    await handleDragDrop({ type: "drop", paths: ["/x/lee.ics"] }, f.deps);
    expect(f.importFile).toHaveBeenCalledWith({ path: "/x/lee.ics", provider: "Dr. Lee", new_provider_tz: "Europe/London" });
  });

  it("imports a spreadsheet with a provider column without asking, zone of new providers = the desk's", async () => {
    const f = fakes();
    await handleDragDrop({ type: "drop", paths: ["/x/slots.csv"] }, f.deps);
    expect(f.pickProvider).not.toHaveBeenCalled();
    expect(f.importFile).toHaveBeenCalledWith({ path: "/x/slots.csv", provider: null, new_provider_tz: "America/Chicago" });
  });

  it("asks for the provider of a spreadsheet without a provider column", async () => {
    const f = fakes({ checks: { "/x/one.csv": { needs_provider: true } } });
    await handleDragDrop({ type: "drop", paths: ["/x/one.csv"] }, f.deps);
    expect(f.pickProvider).toHaveBeenCalledTimes(1);
    expect(f.importFile).toHaveBeenCalledWith({ path: "/x/one.csv", provider: "Dr. Ana Rivera (Demo)", new_provider_tz: "America/Chicago" });
  });

  it("does not import when the picker is cancelled, nor unsupported files", async () => {
    const f = fakes({ choice: null, checks: { "/x/photo.jpg": { problem: "it is not a calendar (.ics) or a schedule spreadsheet (.csv)" } } });
    const outcomes = await handleDragDrop({ type: "drop", paths: ["/x/a.ics", "/x/photo.jpg"] }, f.deps);
    expect(f.importFile).not.toHaveBeenCalled();
    expect(outcomes?.map((o) => o.status)).toEqual(["cancelled", "refused"]);
    const s = summarize(outcomes ?? []);
    expect(s.tone).toBe("error");
    expect(s.lines).toContain("photo.jpg was not imported: it is not a calendar (.ics) or a schedule spreadsheet (.csv)");
    expect(s.lines.join("\n")).toContain("Nothing else was changed");
  });

  it("reports a refused file in plain words and goes on with the next", async () => {
    const f = fakes();
    let calls = 0;
    f.importFile.mockImplementation(async (_args: ImportArgs) => {
      calls += 1;
      if (calls === 1) throw "bad.ics: Line 1 should be BEGIN:VCALENDAR but is not, so this is not a calendar (.ics) file.";
      return report("good.csv", { slots: 42, summary: "good.csv: 42 open slots imported, 3 skipped: line 120, unknown time zone 'XYZ'", skipped: [{ line: 120, reason: "unknown time zone 'XYZ'" }] });
    });
    const outcomes = await importPaths(["/x/bad.ics", "/x/good.csv"], f.deps);
    expect(outcomes.map((o) => o.status)).toEqual(["refused", "imported"]);
    const s = summarize(outcomes);
    expect(s.lines[0]).toBe("bad.ics was not imported: line 1 should be BEGIN:VCALENDAR but is not, so this is not a calendar (.ics) file.");
    expect(s.tone).toBe("warning");
    expect(s.headline).toBe("1 file of 2 imported");
    expect(s.lines).toContain("good.csv: 42 open slots imported, 3 skipped: line 120, unknown time zone 'XYZ'");
  });

  it("asks how ambiguous dates are written and imports in that order", async () => {
    const question = { value: "03/04/2026", line: 2, column: "date", day_first: "3 April 2026", month_first: "March 4, 2026" };
    const f = fakes({ checks: { "/x/ambiguous.csv": { date_question: question } }, dateOrder: "mdy" });
    await handleDragDrop({ type: "drop", paths: ["/x/ambiguous.csv"] }, f.deps);
    expect(f.pickDateOrder).toHaveBeenCalledTimes(1);
    expect(f.pickDateOrder.mock.calls[0][0].date_question).toEqual(question);
    expect(f.importFile).toHaveBeenCalledWith({ path: "/x/ambiguous.csv", provider: null, new_provider_tz: "America/Chicago", date_order: "mdy" });
    // Cancelled: nothing imported.
    const c = fakes({ checks: { "/x/ambiguous.csv": { date_question: question } }, dateOrder: null });
    const outcomes = await importPaths(["/x/ambiguous.csv"], c.deps);
    expect(c.importFile).not.toHaveBeenCalled();
    expect(outcomes[0].status).toBe("cancelled");
    // A clear file is not asked about.
    const clear = fakes();
    await importPaths(["/x/clear.csv"], clear.deps);
    expect(clear.pickDateOrder).not.toHaveBeenCalled();
  });

  it("does not call a calendar with nothing in the import period a success", () => {
    const summary = "old-export.ics: 2 events read for Old Export, but none falls between 25 Feb and 2 Jun 2026, so nothing was added to the schedule";
    const s = summarize([{ file: "old-export.ics", status: "imported", report: report("old-export.ics", { events: 2, instances: 0, nothing_added: true, summary }) }]);
    expect(s.tone).toBe("warning");
    expect(s.headline).toBe("Nothing from old-export.ics was added");
    expect(s.lines).toEqual([summary]);
    const both = summarize([
      { file: "old-export.ics", status: "imported", report: report("old-export.ics", { nothing_added: true }) },
      { file: "rivera.ics", status: "imported", report: report("rivera.ics") },
    ]);
    expect(both.tone).toBe("warning");
  });

  it("summarizes a clean single import as a success", () => {
    const s = summarize([{ file: "rivera.ics", status: "imported", report: report("rivera.ics", { summary: "rivera.ics: 5 events imported" }) }]);
    expect(s).toEqual({ tone: "success", headline: "rivera.ics imported", lines: ["rivera.ics: 5 events imported"] });
  });
});

describe("provider suggestions", () => {
  const providers = [{ name: "Dr. Ana Rivera (Demo)" }, { name: "Dr. Mei Chen (Demo)" }, { name: "Dr. Sam Okafor (Demo)" }];

  it("matches the file name or the calendar's own name", () => {
    expect(suggestProvider({ name: "rivera.ics", calendar_name: null }, providers)).toBe("Dr. Ana Rivera (Demo)");
    expect(suggestProvider({ name: "export (3).ics", calendar_name: "Mei Chen" }, providers)).toBe("Dr. Mei Chen (Demo)");
    expect(suggestProvider({ name: "calendar.ics", calendar_name: null }, providers)).toBeNull();
  });

  it("names a new provider from the file", () => {
    expect(newProviderName({ name: "dr-lee_calendar.ics", calendar_name: null })).toBe("Dr Lee Calendar");
    expect(newProviderName({ name: "x.ics", calendar_name: "Dr. Lee" })).toBe("Dr. Lee");
  });
});
