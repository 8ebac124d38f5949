import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  root,
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: true,
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('index.html', import.meta.url)),
        login: fileURLToPath(new URL('login.html', import.meta.url)),
      },
    },
  },
  // The render worker is a module, as the page's own scripts are
  worker: { format: 'es' },
  server: {
    // `npm run dev` serves the hub on 8686; the Vite dev server proxies the API to it
    proxy: { '/api': { target: 'http://127.0.0.1:8686', changeOrigin: false } },
  },
})
