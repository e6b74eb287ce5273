/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The api serves the built files at `/`; `npm run dev` proxies the API to a running stack.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", chunkSizeWarningLimit: 4096 },
  server: {
    host: "127.0.0.1",
    proxy: { "/api": process.env.LIFEBOAT_API_URL ?? "http://127.0.0.1:8000" },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
