/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

// `npm run dev` proxies /bridge to a running `fieldcheck-bridge` (default port 8787).
const bridge = process.env.FIELDCHECK_BRIDGE_URL ?? 'http://127.0.0.1:8787'

export default defineConfig({
  // Relative asset paths: the same dist works from the bridge and from Tauri's custom scheme.
  base: './',
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: false })],
  server: { proxy: { '/bridge': bridge } },
  build: {
    outDir: 'dist',
    target: 'es2020',
    chunkSizeWarningLimit: 400,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
})
