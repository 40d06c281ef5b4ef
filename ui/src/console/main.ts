// The city office's console: entry point.
import { createApp } from 'vue'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import 'element-plus/theme-chalk/el-var.css'
import 'leaflet/dist/leaflet.css'
import './style.css'
import App from './App.vue'
import { router } from './router'
import { lang } from './i18n'

document.documentElement.lang = lang.value
createApp(App).use(router).mount('#app')
