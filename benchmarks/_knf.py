"""kaldi-native-fbank options mirroring a speechgmm FeatureConfig (shared by the benchmark scripts)."""

from __future__ import annotations


def knf_mfcc_options(cfg, dither: float = 0.0):
    """``kaldi_native_fbank.MfccOptions`` equal to ``cfg``'s Kaldi settings, with ``dither``."""
    import kaldi_native_fbank as knf

    opts = knf.MfccOptions()
    fo = opts.frame_opts
    fo.samp_freq, fo.frame_length_ms, fo.frame_shift_ms = cfg.sr, cfg.frame_length_ms, cfg.frame_shift_ms
    fo.dither, fo.preemph_coeff, fo.remove_dc_offset = dither, cfg.preemph, cfg.remove_dc
    fo.window_type, fo.snip_edges = cfg.window, True
    opts.mel_opts.num_bins, opts.mel_opts.low_freq, opts.mel_opts.high_freq = cfg.n_mels, cfg.fmin, cfg.fmax
    opts.num_ceps, opts.use_energy, opts.cepstral_lifter = cfg.n_mfcc, cfg.use_energy, cfg.lifter
    return opts
