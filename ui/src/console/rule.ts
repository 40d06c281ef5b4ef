// A dispatch preview's rule in the current language.
import { lang } from './i18n'
import type { DispatchPreview } from './wire'

export function previewRule(p: DispatchPreview): string {
  return lang.value === 'en' && p.rule_text_en ? p.rule_text_en : p.rule_text
}
