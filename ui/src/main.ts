import { createApp } from 'vue'
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import 'vant/es/notify/style'
import './style.css'
import App from './App.vue'
import { router } from './router'
import { lang } from './lib/i18n'

document.documentElement.lang = lang.value
createApp(App).use(router).mount('#app')
