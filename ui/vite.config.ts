/// <reference types="vitest/config" />
import { defineConfig, type ProxyOptions } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

// `npm run dev` proxies /bridge to a running `fieldcheck-bridge` (default port 8787).
const bridge = process.env.FIELDCHECK_BRIDGE_URL ?? 'http://127.0.0.1:8787'
// The bridge answers only under its own name and to its own origin (DNS rebinding, other
// pages): the proxy names the bridge as Host, and presents the dev server's own pages as the
// bridge's origin. Any other page's Origin passes unchanged and is refused by the bridge; the
// session secret is fetched by the UI through the proxy like any call.
const bridgeOrigin = new URL(bridge).origin
const bridgeProxy: ProxyOptions = {
  target: bridge,
  changeOrigin: true,
  configure: (proxy) => {
    proxy.on('proxyReq', (req, incoming) => {
      const { origin, host } = incoming.headers
      if (origin && host && (origin === `http://${host}` || origin === `https://${host}`)) {
        req.setHeader('origin', bridgeOrigin)
      }
    })
  },
}

export default defineConfig({
  // Relative asset paths: the same dist works from the bridge and from Tauri's custom scheme.
  base: './',
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: false })],
  server: { proxy: { '/bridge': bridgeProxy } },
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
