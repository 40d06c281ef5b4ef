// The public report page (随手拍) for volunteers and citizens: a third app in this package,
// served by the server at /report/ (assets from `ui/dist-report`). Phone first and opened in
// WeChat's built-in browser over 4G, so it carries Vant (on demand, like the inspector app)
// and no console code; Leaflet loads only when someone opens the map.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'
import { fileURLToPath } from 'node:url'

// `npm run dev:report` proxies the API to a running `fieldcheck-server` (e.g. `demo --bind
// 127.0.0.1:8099`).
const server = process.env.FIELDCHECK_SERVER_URL ?? 'http://127.0.0.1:8099'

export default defineConfig({
  root: fileURLToPath(new URL('./report', import.meta.url)),
  base: '/report/',
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: false })],
  server: {
    proxy: { '/api': { target: server, changeOrigin: false } },
    fs: { allow: [fileURLToPath(new URL('.', import.meta.url))] },
  },
  build: {
    outDir: fileURLToPath(new URL('./dist-report', import.meta.url)),
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 400,
  },
})
