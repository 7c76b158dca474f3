import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// The build goes to dist/, which the server embeds. Hashed file names let the
// server cache /assets/* for a year; index.html is always revalidated.
export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      output: {
        // ECharts changes less often than the dashboard, so it gets its own
        // file and stays cached across dashboard releases.
        manualChunks: (id) => (id.includes('node_modules/echarts') || id.includes('node_modules/zrender') ? 'echarts' : undefined),
      },
    },
  },
  server: {
    host: '127.0.0.1',
    // `npm run dev` forwards API calls to a local `oversight serve`; set
    // OVERSIGHT_URL to use another address.
    proxy: {
      '/api': process.env.OVERSIGHT_URL ?? 'http://127.0.0.1:8080',
      '/metrics': process.env.OVERSIGHT_URL ?? 'http://127.0.0.1:8080',
    },
  },
});
