from gradcheck.ops.spec import *  # noqa: F401,F403
from gradcheck.ops.spec import SPECS, OpSpec, conv_out_len, conv_out_shape, pool_out_shape  # noqa: F401
