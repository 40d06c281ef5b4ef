// The city office's desktop console: a second app in this package, served by the server at
// /console/ (assets from `ui/dist-console`). Element Plus components are resolved on demand and
// ECharts is imported modularly, so each screen loads only what it uses.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import { fileURLToPath } from 'node:url'

// `npm run dev:console` proxies the API to a running `fieldcheck-server` (e.g. `demo --bind
// 127.0.0.1:8099`).
const server = process.env.FIELDCHECK_SERVER_URL ?? 'http://127.0.0.1:8099'

export default defineConfig({
  root: fileURLToPath(new URL('./console', import.meta.url)),
  base: '/console/',
  plugins: [vue(), Components({ resolvers: [ElementPlusResolver({ importStyle: 'css' })], dts: false })],
  server: {
    proxy: { '/api': { target: server, changeOrigin: false } },
    fs: { allow: [fileURLToPath(new URL('.', import.meta.url))] },
  },
  build: {
    outDir: fileURLToPath(new URL('./dist-console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 800,
  },
})
