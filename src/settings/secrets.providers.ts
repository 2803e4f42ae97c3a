import type { Provider, Type } from '@nestjs/common';
import { CertificateService } from './certificate.service';
import { ResealProcessor } from './reseal.processor';
import { ResealService } from './reseal.service';
import { SecretSealer } from './secret-sealer';

/** Sealing and certificate services (Applications Setup). */
export const SECRET_PROVIDERS: Provider[] = [SecretSealer, CertificateService, ResealService];
/** Queue processors of the secrets feature; registered on worker nodes only. */
export const SECRET_PROCESSORS: Type[] = [ResealProcessor];
