/* pin.c - certpin's PINs: hashing, policy, lockout, never readable
 *
 * (Filled in by the provisioning work: see slapo-certpin(5).)
 */

#include "certpin.h"

ConfigTable certpin_pin_cfg[] = {
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_pin_cfg_names[] = "";

int
certpin_pin_db_init( BackendDB *be, certpin_info *ci )
{
	return 0;
}

int
certpin_pin_db_destroy( BackendDB *be, certpin_info *ci )
{
	return 0;
}

int
certpin_pin_search( Operation *op, SlapReply *rs )
{
	return SLAP_CB_CONTINUE;
}

int
certpin_pin_compare( Operation *op, SlapReply *rs )
{
	return SLAP_CB_CONTINUE;
}
