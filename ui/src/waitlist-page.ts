// The Waitlist page's controller: lists the waiting patients, and runs Add, Edit, Remove,
// Import CSV and Find times (with Offer straight from a patient's free times).

import type { Api } from "./api";
import { errorText } from "./api";
import type { PatientOptionDto, PatientOptions, WaitlistEntryDto } from "./bindings";
import { emptyEntry } from "./fill";
import type { Tone } from "./integrations-page";
import { latestOnly } from "./latest";
import { formatTime } from "./time";
import { replaceChildren } from "./view/dom";
import { confirmRemovePatient, renderWaitlist, showPatientOptions } from "./view/waitlist";
import { openWaitlistDialog } from "./view/waitlist-dialog";

/** What the page needs from the app. */
export interface WaitlistPageDeps {
  api: Api;
  notify(tone: Tone, headline: string, lines?: string[]): void;
  /** IANA zones for the patient's zone. */
  zones(): Promise<string[]>;
  /** The front desk's zone: a new patient's first zone. */
  deskZone(): string;
  /** The providers known to the week view (names offered, and their zones for showing times). */
  providers(): { name: string; tz: string }[];
  /** Location names known to the week view. */
  locations(): string[];
  /** The file picker for a waitlist spreadsheet; null when cancelled. Absent: no Import button. */
  pickFile?: () => Promise<string | null>;
  /** Resolves true once someone is at the desk (Offer needs it). */
  ensureStaff(): Promise<boolean>;
  /** Shows a time on the Openings page (after Offer from a patient's free times). */
  openSlot(slotId: string): void;
}

/** The page in `container`. */
export interface WaitlistPage {
  load(): Promise<void>;
  /** The last list loaded. */
  entries(): WaitlistEntryDto[] | null;
}

/** Creates the Waitlist page controller. */
export function createWaitlistPage(container: HTMLElement, deps: WaitlistPageDeps): WaitlistPage {
  const { api } = deps;
  let entries: WaitlistEntryDto[] | null = null;
  let importing = false;
  let editing = false;

  const show = (v: NonNullable<typeof entries>) => {
    entries = v;
    render();
  };
  const load = latestOnly(() => api.waitlist(), show, deps.notify, "The waitlist could not be loaded");

  function render(): void {
    if (!entries) return;
    const active = document.activeElement as HTMLElement | null;
    const focus = active && container.contains(active) ? { row: active.closest<HTMLElement>("tr")?.dataset.waitlistId, action: active.dataset.action, id: active.id } : null;
    replaceChildren(
      container,
      renderWaitlist(entries, {
        onAdd: () => void edit(null),
        onImport: deps.pickFile ? () => void importFile() : undefined,
        importing,
        onEdit: (e) => void edit(e),
        onFindTimes: (e) => void findTimes(e),
        onRemove: (e) => void remove(e),
      }),
    );
    if (!focus) return;
    const again = focus.row && focus.action
      ? container.querySelector<HTMLElement>(`tr[data-waitlist-id="${CSS.escape(focus.row)}"] [data-action="${focus.action}"]`)
      : focus.id
        ? container.querySelector<HTMLElement>(`#${CSS.escape(focus.id)}`)
        : null;
    again?.focus();
  }

  async function edit(entry: WaitlistEntryDto | null): Promise<void> {
    if (editing) return;
    editing = true;
    try {
      let zones: string[];
      try {
        zones = await deps.zones();
      } catch {
        zones = [deps.deskZone()];
      }
      let integrations: string[] = [];
      try {
        integrations = (await api.integrations()).cards.map((c) => c.name);
      } catch {
        // Only suggestions for the id rows: typing still works.
      }
      const saved = await openWaitlistDialog(entry ?? emptyEntry(deps.deskZone()), {
        save: (e) => api.saveWaitlistEntry(e),
        zones,
        providers: deps.providers().map((p) => p.name),
        locations: deps.locations(),
        integrations,
      });
      if (!saved) return;
      deps.notify("success", entry ? `${saved.display_name}'s details were saved` : `${saved.display_name} was added to the waitlist`);
    } finally {
      editing = false;
    }
    await load();
  }

  async function remove(entry: WaitlistEntryDto): Promise<void> {
    if (entry.id === null || !(await confirmRemovePatient(entry))) return;
    try {
      await api.removeWaitlistEntry(entry.id);
      deps.notify("success", `${entry.display_name} was taken off the waitlist`);
    } catch (e) {
      deps.notify("error", `${entry.display_name} could not be taken off the waitlist`, [errorText(e)]);
    }
    await load();
  }

  async function importFile(): Promise<void> {
    if (importing || !deps.pickFile) return;
    let path: string | null;
    try {
      path = await deps.pickFile();
    } catch (e) {
      deps.notify("error", "The file picker could not be opened", [errorText(e)]);
      return;
    }
    if (!path) return;
    importing = true;
    render();
    try {
      const r = await api.importWaitlist(path);
      deps.notify("success", r.added === 1 ? `1 patient added from ${r.file}` : `${r.added} patients added from ${r.file}`);
    } catch (e) {
      deps.notify("error", "The waitlist spreadsheet was not imported", [errorText(e), "Nothing was added. Correct the file and import it again."]);
    } finally {
      importing = false;
    }
    await load();
  }

  async function findTimes(entry: WaitlistEntryDto): Promise<void> {
    if (entry.id === null) return;
    const patientId = entry.id;
    let found: PatientOptions;
    try {
      found = await api.patientOptions(patientId);
    } catch (e) {
      deps.notify("error", `Free times for ${entry.display_name} could not be found`, [errorText(e)]);
      return;
    }
    const zoneOf = (name: string) => deps.providers().find((p) => p.name === name)?.tz ?? null;
    const offer = async (o: PatientOptionDto): Promise<boolean> => {
      if (!(await deps.ensureStaff())) return false;
      const hold = await api.offerSlot(o.slot_id, patientId);
      const tz = zoneOf(o.provider);
      deps.notify("success", `The time is held for ${entry.display_name}`, [tz ? `Until ${formatTime(hold.expires_at, tz)}. Call the patient, then Book or Release it on the Openings page.` : "Call the patient, then Book or Release it on the Openings page."]);
      return true;
    };
    const slot = await showPatientOptions(entry, found, zoneOf, offer);
    if (slot) deps.openSlot(slot);
  }

  return { load, entries: () => entries };
}
