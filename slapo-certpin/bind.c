/* bind.c - certpin's logon enforcement on SASL EXTERNAL binds
 *
 * (Filled in by the device logon work: see slapo-certpin(5).)
 */

#include "certpin.h"

ConfigTable certpin_bind_cfg[] = {
	{ NULL, NULL, 0, 0, 0, ARG_IGNORED }
};
const char certpin_bind_cfg_names[] = "";

int
certpin_bind_db_init( BackendDB *be, certpin_info *ci )
{
	return 0;
}

int
certpin_bind_db_destroy( BackendDB *be, certpin_info *ci )
{
	return 0;
}

int
certpin_bind_op( Operation *op, SlapReply *rs )
{
	return SLAP_CB_CONTINUE;
}

int
certpin_bind_op_any( Operation *op, SlapReply *rs )
{
	return SLAP_CB_CONTINUE;
}
