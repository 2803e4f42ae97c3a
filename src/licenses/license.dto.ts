import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsString, MaxLength, ValidateIf } from 'class-validator';
import { IsInstant } from '../common/http/validators';
import { ListQueryDto } from '../settings/instance.dto';
import { LICENSE_STATUSES, PROVISIONING_STATUSES, TOKEN_STATUSES } from './license.entity';

const given = (_o: unknown, value: unknown) => value !== undefined;

/** `GET /licenses` and `GET /my/licenses`: filters on top of the cursor and limit. */
export class LicensesQueryDto extends ListQueryDto {
  @ValidateIf(given)
  @IsIn(LICENSE_STATUSES)
  @ApiPropertyOptional({ enum: LICENSE_STATUSES })
  status?: (typeof LICENSE_STATUSES)[number];

  @ValidateIf(given)
  @IsIn(PROVISIONING_STATUSES)
  @ApiPropertyOptional({ enum: PROVISIONING_STATUSES })
  provisioningStatus?: (typeof PROVISIONING_STATUSES)[number];

  @ValidateIf(given)
  @IsIn(TOKEN_STATUSES)
  @ApiPropertyOptional({ enum: TOKEN_STATUSES })
  tokenStatus?: (typeof TOKEN_STATUSES)[number];

  @ValidateIf(given)
  @IsString()
  @MaxLength(100)
  @ApiPropertyOptional({ maxLength: 100, description: "The end customer's host account." })
  customerAccountId?: string;

  /** The ESD offer ID (= the host product code). */
  @ValidateIf(given)
  @IsString()
  @MaxLength(100)
  @ApiPropertyOptional({ maxLength: 100, description: 'The ESD offer ID (= the host product code).' })
  offerId?: string;

  @ValidateIf(given)
  @IsString()
  @MaxLength(36)
  @ApiPropertyOptional({ maxLength: 36 })
  instanceId?: string;

  /** Purchased at or after (ISO 8601). */
  @ValidateIf(given)
  @IsInstant()
  @ApiPropertyOptional({ format: 'date-time', description: 'Purchased at or after (ISO 8601).' })
  purchasedFrom?: string;

  /** Purchased before (ISO 8601). */
  @ValidateIf(given)
  @IsInstant()
  @ApiPropertyOptional({ format: 'date-time', description: 'Purchased before (ISO 8601).' })
  purchasedTo?: string;
}

/** `POST …/reveal`. */
export interface RevealView {
  licenseId: string;
  productKey: string;
  activationLink: string;
}

/** {@link RevealView} as an OpenAPI schema. */
@ApiSchema({
  name: 'Reveal',
  description: 'The full product key and activation link; the reveal is audited.',
})
export class RevealViewDto implements RevealView {
  @ApiProperty() licenseId: string;
  @ApiProperty({ example: 'ABCDE-FGHIJ-KLMNO-PQRST-7QX4P' }) productKey: string;
  @ApiProperty({ description: 'Carries the key, so it is withheld like the key.' }) activationLink: string;
}
