// The page's photos, through the API with its headers (see lib/apiPhotos.ts): at most 120
// kept, a phone's memory being small.
import { photoCache } from '../lib/apiPhotos'
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from './queue'

export const { photoSrc, retryFailedPhotos } = photoCache(120, { [PROTOCOL_HEADER]: PROTOCOL_VERSION })
