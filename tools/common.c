/* common.c */
#include "common.h"
int certpin_tools_common_placeholder;
