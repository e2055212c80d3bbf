// Entry point: wires the app to the Tauri shell.

import "./styles.css";
import { errorText, tauriBackend } from "./api";
import type { Backend } from "./app";
import { startApp } from "./app";
import type { DragDropPayload } from "./drop";

async function main(): Promise<void> {
  const root = document.getElementById("root");
  if (!root) return;
  const { api, onStoreChanged, onSignIn, onOpeningsFound, onOpenSlot } = await tauriBackend();
  const { getCurrentWebview } = await import("@tauri-apps/api/webview");
  const dialog = await import("@tauri-apps/plugin-dialog");
  const backend: Backend = {
    api,
    onStoreChanged,
    onSignIn,
    onOpeningsFound,
    onOpenSlot,
    pickKeyFile: async () => {
      const picked = await dialog.open({
        multiple: false,
        directory: false,
        title: "Choose the private key file",
        filters: [
          { name: "Private keys (.pem, .key)", extensions: ["pem", "key"] },
          { name: "All files", extensions: ["*"] },
        ],
      });
      return typeof picked === "string" ? picked : null;
    },
    onDragDrop: (handler) => getCurrentWebview().onDragDropEvent((e) => handler(e.payload as DragDropPayload)),
    pickFiles: async () => {
      const picked = await dialog.open({
        multiple: true,
        directory: false,
        title: "Import calendars or schedule spreadsheets",
        filters: [{ name: "Calendars and schedule spreadsheets", extensions: ["ics", "csv"] }],
      });
      if (picked === null) return [];
      return Array.isArray(picked) ? picked : [picked];
    },
    pickWaitlistFile: async () => {
      const picked = await dialog.open({
        multiple: false,
        directory: false,
        title: "Import a waitlist spreadsheet",
        filters: [{ name: "Waitlist spreadsheets (.csv)", extensions: ["csv"] }],
      });
      return typeof picked === "string" ? picked : null;
    },
    showLogs: async () => {
      const { appLogDir } = await import("@tauri-apps/api/path");
      const folder = await appLogDir();
      try {
        const { revealItemInDir } = await import("@tauri-apps/plugin-opener");
        await revealItemInDir(folder);
        return { folder, opened: true };
      } catch (e) {
        // No file manager (or none that answers): the window says where the files are.
        return { folder, opened: false, error: errorText(e) };
      }
    },
  };
  await startApp(root, backend);
}

void main();
