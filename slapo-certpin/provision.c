/* provision.c - certpin's certificate provisioning extended operation
 *
 * (Filled in by the provisioning work: see slapo-certpin(5).)
 */

#include "certpin.h"

ConfigTable certpin_prov_cfg[] = {
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_prov_cfg_names[] = "";

int
certpin_prov_db_init( BackendDB *be, certpin_info *ci )
{
	return 0;
}

int
certpin_prov_db_open( BackendDB *be, certpin_info *ci, ConfigReply *cr )
{
	return 0;
}

int
certpin_prov_db_destroy( BackendDB *be, certpin_info *ci )
{
	return 0;
}

int
certpin_prov_extended( Operation *op, SlapReply *rs )
{
	return SLAP_CB_CONTINUE;
}
