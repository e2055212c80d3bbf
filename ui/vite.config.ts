import { defineConfig } from "vitest/config";

// Tauri embeds ui/dist; the dev server (npm run dev) is only for working on the UI.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) and WebView2 handle ES2021.
    target: "es2021",
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
