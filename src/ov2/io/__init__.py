"""ov2.io"""
