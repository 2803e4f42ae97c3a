import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { MicrosoftEsdModuleExtras, MicrosoftEsdModuleOptions } from './microsoft-esd.options';

export const {
  ConfigurableModuleClass: ConfigurableEsdModule,
  MODULE_OPTIONS_TOKEN: RAW_ESD_OPTIONS,
  OPTIONS_TYPE: ESD_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: ESD_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<MicrosoftEsdModuleOptions>({ moduleName: 'MicrosoftEsd' })
  .setClassMethodName('forRoot')
  .setExtras<MicrosoftEsdModuleExtras>({}, (definition) => definition)
  .build();
