// The console's photos, through the API with its headers (see lib/apiPhotos.ts): kept for the
// session, at most 200, so a long day at the desk does not hold every photo it saw.
import { photoCache } from '../lib/apiPhotos'
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from './api'

export const { photoSrc, rememberPhoto } = photoCache(200, { [PROTOCOL_HEADER]: PROTOCOL_VERSION })
